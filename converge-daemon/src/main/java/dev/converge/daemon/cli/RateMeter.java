package dev.converge.daemon.cli;

import java.util.ArrayDeque;

/**
 * Bytes per second of a growing counter over a sliding window, from samples the caller takes
 * with its own clock (so tests give the times). Not thread-safe: one watcher owns it.
 */
final class RateMeter {
    private record Sample(long nanos, long value) {
    }

    private final long windowNanos;
    private final ArrayDeque<Sample> samples = new ArrayDeque<>();

    RateMeter(long windowNanos) {
        this.windowNanos = windowNanos;
    }

    void add(long nanos, long value) {
        samples.addLast(new Sample(nanos, value));
        // Keep one sample older than the window so the rate always spans a whole window.
        while (samples.size() > 2 && nanos - secondOldest().nanos() >= windowNanos) {
            samples.removeFirst();
        }
    }

    private Sample secondOldest() {
        var it = samples.iterator();
        it.next();
        return it.next();
    }

    /** Units per second over the window; NaN until two samples at least 100 ms apart exist. */
    double perSecond() {
        if (samples.size() < 2) {
            return Double.NaN;
        }
        Sample first = samples.peekFirst();
        Sample last = samples.peekLast();
        long dt = last.nanos() - first.nanos();
        if (dt < 100_000_000L) {
            return Double.NaN;
        }
        return Math.max(0, last.value() - first.value()) * 1e9 / dt;
    }
}
