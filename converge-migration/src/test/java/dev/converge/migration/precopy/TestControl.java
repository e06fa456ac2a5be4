package dev.converge.migration.precopy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A tiny stand-in for the job engine: optional max-bandwidth, auto-complete on convergence or
 * complete on request, cancel, and latches for "converged" and "N passes done". Waits are
 * condition waits that cancel and complete cut short.
 */
final class TestControl implements MigrationControl {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final boolean autoComplete;
    private final int minPasses;
    private final long maxBandwidth;
    /** Guarded by lock. */
    private boolean cancelled;
    /** Guarded by lock. */
    private boolean completeRequested;
    /** Guarded by lock. */
    private final List<MigrationProgress> passes = new ArrayList<>();
    /** Guarded by lock; start of rate limiting and bytes since. */
    private long rateStart;
    private long rateBytes;

    /** Runs once the vCPUs stopped for the switchover (before the last dirty pages go); set before run(). */
    volatile Runnable onStopped = () -> { };

    final CountDownLatch converged = new CountDownLatch(1);
    final CountDownLatch threePasses = new CountDownLatch(3);

    /**
     * @param autoComplete whether to request completion once converged (QEMU's migrate)
     * @param minPasses    passes to wait for before auto-completing
     * @param maxBandwidth bytes per second, 0 for unlimited
     */
    TestControl(boolean autoComplete, int minPasses, long maxBandwidth) {
        this.autoComplete = autoComplete;
        this.minPasses = minPasses;
        this.maxBandwidth = maxBandwidth;
    }

    void cancel() {
        lock.lock();
        try {
            cancelled = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    List<MigrationProgress> passes() {
        lock.lock();
        try {
            return List.copyOf(passes);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void checkpoint() {
    }

    @Override
    public void vcpusStopped() {
        onStopped.run();
    }

    @Override
    public boolean isCancelled() {
        lock.lock();
        try {
            return cancelled;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void rateLimit(long bytes) throws InterruptedException {
        if (maxBandwidth == 0) {
            return;
        }
        lock.lock();
        try {
            long now = System.nanoTime();
            if (rateStart == 0) {
                rateStart = now;
            }
            rateBytes += bytes;
            long due = rateStart + (long) (rateBytes * 1e9 / maxBandwidth);
            long wait = due - now;
            while (wait > 0 && !cancelled) {
                wait = changed.awaitNanos(wait);
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void progress(MigrationProgress progress) {
        lock.lock();
        try {
            passes.add(progress);
            if (autoComplete && converged.getCount() == 0 && passes.size() >= minPasses) {
                completeRequested = true;
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
        threePasses.countDown();
    }

    @Override
    public void converged(MigrationProgress progress) {
        lock.lock();
        try {
            if (autoComplete && passes.size() >= minPasses) {
                completeRequested = true;
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
        converged.countDown();
    }

    @Override
    public boolean completeRequested() {
        lock.lock();
        try {
            return completeRequested;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void idle(Duration max) throws InterruptedException {
        lock.lock();
        try {
            long left = max.toNanos();
            while (left > 0 && !cancelled && !completeRequested) {
                left = changed.awaitNanos(left);
            }
        } finally {
            lock.unlock();
        }
    }

    boolean awaitPasses(Duration d) throws InterruptedException {
        return threePasses.await(d.toMillis(), TimeUnit.MILLISECONDS);
    }
}
