package dev.converge.migration.machine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The vCPU threads of a machine, running one {@link Workload}.
 * <p>
 * Each vCPU loops: safe point, one {@link Workload#step}, then pacing (the dirty rate) and
 * throttling (auto-converge) as a condition wait that a stop cuts short. {@link #stop()}
 * returns only once every vCPU sits at its safe point, so no guest write is in flight and
 * all writes happen-before the return (the vCPUs park under {@link #lock}). A vCPU that waits
 * for a postcopy page ({@link GuestPageWait}) counts as parked: it is out of guest code, and
 * after its page arrives it goes on only once the vCPUs run again.
 * <p>
 * Mode transitions: STOPPED → RUNNING ({@link #resume}), RUNNING → STOPPED ({@link #stop}),
 * any → EXITING ({@link #close}, final).
 */
public final class Vcpus implements VcpuControl {
    private enum Mode { STOPPED, RUNNING, EXITING }

    /**
     * The throttle's sleep granule: the vCPU runs until it owes this much, then sleeps it off
     * (QEMU's throttle works in 10 ms slices; 1 ms keeps a stop or a throttle change prompt).
     */
    static final long THROTTLE_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private final Workload workload;
    private final List<Thread> threads = new ArrayList<>();
    /** Nanoseconds per dirtied page for each vCPU, 0 for unpaced. */
    private final long nanosPerPage;

    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled on every mode change and every park. */
    private final Condition changed = lock.newCondition();
    /** Guarded by lock. */
    private Mode mode = Mode.STOPPED;
    /** Incremented on every mode change; guarded by lock. */
    private long generation;
    /** vCPUs at their safe point (or exited); guarded by lock. */
    private int parked;
    /** The dirty limit as nanoseconds per page for each vCPU, 0 for none; volatile: read by vCPUs without the lock. */
    private volatile long limitNanosPerPage;
    /** The dirty limit in bytes per second per vCPU, 0 for none. */
    private volatile long dirtyLimit;
    /** Percentage of time each vCPU is held back, 0..99; volatile: read by vCPUs without the lock. */
    private volatile int throttlePercent;
    /** The first failure of a workload step, which stops that vCPU; volatile: read by anyone. */
    private volatile Throwable failure;
    /** The disk the workload also writes, or null; volatile: set at wiring time, read by vCPUs. */
    private volatile MachineDisk disk;

    /**
     * Starts {@code count} vCPU threads, stopped.
     *
     * @param dirtyRate bytes per second all vCPUs together dirty (page granularity), 0 for unpaced
     */
    public Vcpus(String machineName, int count, Workload workload, long dirtyRate) {
        this.workload = workload;
        this.nanosPerPage = dirtyRate == 0 ? 0 : (long) (1e9 * RamBlock.PAGE_SIZE * count / dirtyRate);
        for (int i = 0; i < count; i++) {
            int index = i;
            Thread t = Thread.ofPlatform().name(machineName + "-vcpu-" + i).daemon().unstarted(() -> {
                GuestPageWait.bind(new PageWaitParking(index));
                loop(index);
            });
            threads.add(t);
        }
        threads.forEach(Thread::start);
    }

    private void loop(int i) {
        long due = System.nanoTime();
        boolean idle = false;
        long owed = 0; // throttle: nanoseconds of sleep this vCPU still owes
        while (true) {
            lock.lock();
            try {
                while (mode != Mode.RUNNING || idle) {
                    if (mode == Mode.EXITING) {
                        return;
                    }
                    parked++;
                    changed.signalAll();
                    // Wait for a mode change, not for any signal: parks of other vCPUs also
                    // signal, and idle vCPUs must not wake each other in turn.
                    long seen = generation;
                    while (generation == seen) {
                        changed.awaitUninterruptibly();
                    }
                    parked--;
                    idle = false;
                    due = System.nanoTime();
                }
            } finally {
                lock.unlock();
            }
            long start = System.nanoTime();
            int pages;
            try {
                pages = workload.step(i);
                MachineDisk d = disk;
                if (pages > 0 && d != null) {
                    workload.writeDisk(i, d, d.size());
                }
            } catch (GuestPageWait.VcpuExit e) {
                return; // closed while parked in a page wait
            } catch (RuntimeException | Error | java.io.IOException e) {
                failure = e;
                countParked(); // for good: stop must not wait for it
                return;
            }
            if (pages < 0) {
                idle = true;
                continue;
            }
            long now = System.nanoTime();
            long pace = 0;
            long npp = Math.max(nanosPerPage, limitNanosPerPage);
            if (npp > 0) {
                due += pages * npp;
                pace = due - now;
                if (pace < -TimeUnit.SECONDS.toNanos(1)) {
                    due = now; // fell far behind: do not catch up in a burst
                }
                pace = Math.max(0, pace);
            }
            long hold = 0;
            int thr = throttlePercent;
            if (thr > 0) {
                // The guest's time is its run time plus its paced wait (a paced guest models one that
                // computes between writes); thr% of the wall clock is held back from it. A step takes
                // microseconds, far below what a timed wait honours, so the debt is paid in slices.
                owed += (now - start + pace) * thr / (100 - thr);
                if (owed >= THROTTLE_SLICE_NANOS) {
                    hold = owed;
                }
            } else {
                owed = 0;
            }
            if (pace + hold > 0) {
                long slept = sleep(pace + hold);
                long held = Math.max(0, slept - pace);
                if (held > 0 && thr > 0) {
                    owed = Math.max(0, owed - held);
                    due += held; // held-back time is not guest time: the pace must not catch up on it
                }
            }
        }
    }

    /**
     * A vCPU waiting for a postcopy page is out of guest code: parked, so that {@link #stop}
     * returns; once the page is there it goes on only while running.
     */
    private final class PageWaitParking implements GuestPageWait.Parking {
        private final int index;

        PageWaitParking(int index) {
            this.index = index;
        }

        @Override
        public int index() {
            return index;
        }

        @Override
        public void waitBegins() {
            countParked();
        }

        @Override
        public void waitEnds() {
            lock.lock();
            try {
                while (mode != Mode.RUNNING) {
                    if (mode == Mode.EXITING) {
                        throw new GuestPageWait.VcpuExit(); // stays counted: it exits
                    }
                    changed.awaitUninterruptibly();
                }
                parked--;
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void waitFailed() {
            lock.lock();
            try {
                parked--;
            } finally {
                lock.unlock();
            }
        }
    }

    /** One more vCPU is out of guest code. */
    private void countParked() {
        lock.lock();
        try {
            parked++;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Waits up to {@code nanos} while running (a stop cuts it short); returns the time waited. */
    private long sleep(long nanos) {
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

    /** Lets the vCPUs run. */
    public void resume() {
        lock.lock();
        try {
            if (mode == Mode.STOPPED) {
                mode = Mode.RUNNING;
                generation++;
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Stops the vCPUs and returns once each is at its safe point (no write in flight). */
    public void stop() {
        lock.lock();
        try {
            if (mode == Mode.RUNNING) {
                mode = Mode.STOPPED;
                generation++;
                changed.signalAll();
            }
            while (parked < threads.size() && mode != Mode.EXITING) {
                changed.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Makes the workload also write {@code d} (null: no disk). */
    void setDisk(MachineDisk d) {
        disk = d;
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

    /**
     * Holds each vCPU back for {@code percent}% of its time (QEMU's cpu-throttle-percentage).
     *
     * @throws IllegalArgumentException unless 0..99
     */
    public void setThrottle(int percent) {
        if (percent < 0 || percent > 99) {
            throw new IllegalArgumentException("throttle: " + percent + " (expected: 0..99)");
        }
        throttlePercent = percent;
    }

    /**
     * Caps the rate at which each vCPU dirties memory (QEMU's dirty limit, set by a migration
     * with the dirty-limit capability): the vCPU is paced to at most {@code bytesPerSecond} of
     * newly written pages, on top of the workload's own pace; 0 lifts the cap.
     *
     * @throws IllegalArgumentException when negative
     */
    public void setDirtyLimit(long bytesPerSecond) {
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("dirty limit: " + bytesPerSecond + " (expected: >= 0)");
        }
        limitNanosPerPage = bytesPerSecond == 0 ? 0 : Math.max(1, (long) (1e9 * RamBlock.PAGE_SIZE / bytesPerSecond));
        dirtyLimit = bytesPerSecond;
    }

    /** The dirty limit per vCPU in bytes per second, 0 when none. */
    public long dirtyLimit() {
        return dirtyLimit;
    }

    /** The throttle percentage. */
    public int throttle() {
        return throttlePercent;
    }

    /** The first failure of a workload step, or null. */
    public Throwable failure() {
        return failure;
    }

    /** Stops the threads for good and joins them. */
    @Override
    public void close() {
        lock.lock();
        try {
            mode = Mode.EXITING;
            generation++;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
