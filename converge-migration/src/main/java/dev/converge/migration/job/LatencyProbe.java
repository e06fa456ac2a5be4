package dev.converge.migration.job;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * Measures how long a task posted to an executor waits before it runs. The migration's
 * switchover is decided on the main loop: once the destination holds all state, the job hands
 * over to it, and that wait is part of the downtime (seen: 2–9 ms on two busy CPUs). The job
 * probes the wait after every pass, so the downtime estimate includes it.
 * <p>
 * Threads: {@link #probe} from the job's thread; the samples are written on the executor and
 * read by anyone, so they live in a small synchronized ring.
 */
final class LatencyProbe {
    /** Samples kept; the estimate is their maximum. */
    static final int WINDOW = 8;

    private final Executor executor;
    /** System.nanoTime, or a test's clock. */
    private final LongSupplier nanoTime;
    private final AtomicBoolean inFlight = new AtomicBoolean();
    private final long[] samples = new long[WINDOW];
    private int count;
    private int next;

    LatencyProbe(Executor executor) {
        this(executor, System::nanoTime);
    }

    LatencyProbe(Executor executor, LongSupplier nanoTime) {
        this.executor = Objects.requireNonNull(executor);
        this.nanoTime = Objects.requireNonNull(nanoTime);
    }

    /** Posts one timed no-op, unless the last one has not run yet (then its wait is still growing). */
    void probe() {
        if (!inFlight.compareAndSet(false, true)) {
            return;
        }
        long posted = nanoTime.getAsLong();
        try {
            executor.execute(() -> {
                record(nanoTime.getAsLong() - posted);
                inFlight.set(false);
            });
        } catch (RuntimeException e) {
            inFlight.set(false); // the executor is shutting down: nothing to measure
        }
    }

    private synchronized void record(long nanos) {
        samples[next] = nanos;
        next = (next + 1) % WINDOW;
        count = Math.min(WINDOW, count + 1);
    }

    /** The longest of the recent waits; zero before any. */
    synchronized Duration recentMax() {
        long max = 0;
        for (int i = 0; i < count; i++) {
            max = Math.max(max, samples[i]);
        }
        return Duration.ofNanos(max);
    }
}
