package dev.converge.migration.machine;

import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The run/stop protocol of the KVM accelerator's vCPU threads ({@link Vcpus} keeps its own copy
 * of it, with the postcopy page-wait parking, for now): a mode (STOPPED → RUNNING by {@link #resume}, RUNNING → STOPPED by {@link #stop}, any →
 * EXITING by {@link #exit}, final), a generation that counts mode changes (a parked vCPU waits
 * for a change, not for any signal: the parks of other vCPUs signal too), and the count of
 * vCPUs parked, which {@link #stop} waits to reach all of them. The vCPU threads keep their own
 * state under the same {@link #lock()}, and park with {@link #parked()} / {@link #unparked()}.
 */
public final class VcpuGate {
    /** What the vCPUs are told to do. */
    public enum Mode { STOPPED, RUNNING, EXITING }

    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled on every mode change and every park. */
    private final Condition changed = lock.newCondition();
    private final int vcpus;
    /** Guarded by lock. */
    private Mode mode = Mode.STOPPED;
    /** Incremented on every mode change; guarded by lock. */
    private long generation;
    /** vCPUs parked (or exited, or failed); guarded by lock. */
    private int parked;

    /** A gate for {@code vcpus} vCPU threads, stopped. */
    public VcpuGate(int vcpus) {
        this.vcpus = vcpus;
    }

    /** The lock that guards the mode and the vCPU threads' own shared state. */
    public ReentrantLock lock() {
        return lock;
    }

    /** Signalled on every mode change and park (and by the vCPU threads' owners for their own state). */
    public Condition changed() {
        return changed;
    }

    /** The mode; lock held. */
    public Mode mode() {
        assert lock.isHeldByCurrentThread();
        return mode;
    }

    /** The number of mode changes so far; lock held. */
    public long generation() {
        assert lock.isHeldByCurrentThread();
        return generation;
    }

    /** A vCPU thread parks (or ends); lock held. */
    public void parked() {
        assert lock.isHeldByCurrentThread();
        parked++;
        changed.signalAll();
    }

    /** A parked vCPU thread runs again; lock held. */
    public void unparked() {
        assert lock.isHeldByCurrentThread();
        parked--;
    }

    /** Lets the vCPUs run (from STOPPED only). */
    public void resume() {
        lock.lock();
        try {
            if (mode == Mode.STOPPED) {
                change(Mode.RUNNING);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops running vCPUs: {@code kick} (run under the lock, after the change) gets them out of
     * what they execute; returns once every vCPU parked (or the gate exits).
     */
    public void stop(Runnable kick) {
        lock.lock();
        try {
            if (mode == Mode.RUNNING) {
                change(Mode.STOPPED);
                kick.run();
            }
            while (parked < vcpus && mode != Mode.EXITING) {
                changed.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops running vCPUs without waiting: {@code kick} runs under the lock after the change; a
     * {@link #stop} then waits for them to park, or a {@link #resume} lets them on.
     *
     * @return whether they were running (else nothing changed)
     */
    public boolean requestStop(Runnable kick) {
        lock.lock();
        try {
            if (mode != Mode.RUNNING) {
                return false;
            }
            change(Mode.STOPPED);
            kick.run();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Tells the vCPUs to end; {@code kick} runs under the lock after the change. */
    public void exit(Runnable kick) {
        lock.lock();
        try {
            change(Mode.EXITING);
            kick.run();
        } finally {
            lock.unlock();
        }
    }

    /** Whether the vCPUs are allowed to run. */
    public boolean isRunning() {
        lock.lock();
        try {
            return mode == Mode.RUNNING;
        } finally {
            lock.unlock();
        }
    }

    /** Waits up to {@code nanos} while running (a stop or exit cuts it short); returns the time waited. */
    public long sleepWhileRunning(long nanos) {
        long from = System.nanoTime();
        lock.lock();
        try {
            long left = nanos;
            while (left > 0 && mode == Mode.RUNNING) {
                left = changed.awaitNanos(left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
        return System.nanoTime() - from;
    }

    private void change(Mode next) {
        mode = next;
        generation++;
        changed.signalAll();
    }

    /**
     * Checks a throttle percentage (QEMU's cpu-throttle-percentage).
     *
     * @throws IllegalArgumentException unless 0..99
     */
    public static int checkThrottle(int percent) {
        if (percent < 0 || percent > 99) {
            throw new IllegalArgumentException("throttle: " + percent + " (expected: 0..99)");
        }
        return percent;
    }

    /**
     * Checks a dirty limit in bytes per second per vCPU.
     *
     * @throws IllegalArgumentException when negative
     */
    public static long checkDirtyLimit(long bytesPerSecond) {
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("dirty limit: " + bytesPerSecond + " (expected: >= 0)");
        }
        return bytesPerSecond;
    }
}
