package dev.converge.migration.machine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The vCPU threads of a machine, running one {@link Workload}.
 * <p>
 * Each vCPU loops: safe point, one {@link Workload#step}, then pacing (the dirty rate) and
 * throttling (auto-converge) as a condition wait that a stop cuts short. {@link #stop()}
 * returns only once every vCPU sits at its safe point, so no guest write is in flight and
 * all writes happen-before the return (the vCPUs park under the {@link VcpuGate}'s lock, whose
 * mode transitions they follow).
 */
public final class Vcpus implements VcpuControl {
    /**
     * The throttle's sleep granule: the vCPU runs until it owes this much, then sleeps it off
     * (QEMU's throttle works in 10 ms slices; 1 ms keeps a stop or a throttle change prompt).
     */
    static final long THROTTLE_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private final Workload workload;
    private final List<Thread> threads = new ArrayList<>();
    /** Nanoseconds per dirtied page for each vCPU, 0 for unpaced. */
    private final long nanosPerPage;

    /** Mode, parking and the lock the vCPUs park under. */
    private final VcpuGate gate;
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
        this.gate = new VcpuGate(count);
        for (int i = 0; i < count; i++) {
            int index = i;
            Thread t = Thread.ofPlatform().name(machineName + "-vcpu-" + i).daemon().unstarted(() -> loop(index));
            threads.add(t);
        }
        threads.forEach(Thread::start);
    }

    private void loop(int i) {
        long due = System.nanoTime();
        boolean idle = false;
        long owed = 0; // throttle: nanoseconds of sleep this vCPU still owes
        while (true) {
            gate.lock().lock();
            try {
                while (gate.mode() != VcpuGate.Mode.RUNNING || idle) {
                    if (gate.mode() == VcpuGate.Mode.EXITING) {
                        return;
                    }
                    gate.parked();
                    // Wait for a mode change, not for any signal: parks of other vCPUs also
                    // signal, and idle vCPUs must not wake each other in turn.
                    long seen = gate.generation();
                    while (gate.generation() == seen) {
                        gate.changed().awaitUninterruptibly();
                    }
                    gate.unparked();
                    idle = false;
                    due = System.nanoTime();
                }
            } finally {
                gate.lock().unlock();
            }
            long start = System.nanoTime();
            int pages;
            try {
                pages = workload.step(i);
                MachineDisk d = disk;
                if (pages > 0 && d != null) {
                    workload.writeDisk(i, d, d.size());
                }
            } catch (RuntimeException | Error | java.io.IOException e) {
                failure = e;
                gate.lock().lock();
                try {
                    gate.parked();
                } finally {
                    gate.lock().unlock();
                }
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

    /** Waits up to {@code nanos} while running (a stop cuts it short); returns the time waited. */
    private long sleep(long nanos) {
        return gate.sleepWhileRunning(nanos);
    }

    /** Lets the vCPUs run. */
    public void resume() {
        gate.resume();
    }

    /** Stops the vCPUs and returns once each is at its safe point (no write in flight). */
    public void stop() {
        gate.stop(() -> { }); // a workload step is short: the vCPUs see the mode at their next safe point
    }

    /** Makes the workload also write {@code d} (null: no disk). */
    void setDisk(MachineDisk d) {
        disk = d;
    }

    /** Whether the vCPUs are allowed to run. */
    public boolean isRunning() {
        return gate.isRunning();
    }

    /**
     * Holds each vCPU back for {@code percent}% of its time (QEMU's cpu-throttle-percentage).
     *
     * @throws IllegalArgumentException unless 0..99
     */
    public void setThrottle(int percent) {
        throttlePercent = VcpuGate.checkThrottle(percent);
    }

    /**
     * Caps the rate at which each vCPU dirties memory (QEMU's dirty limit, set by a migration
     * with the dirty-limit capability): the vCPU is paced to at most {@code bytesPerSecond} of
     * newly written pages, on top of the workload's own pace; 0 lifts the cap.
     *
     * @throws IllegalArgumentException when negative
     */
    public void setDirtyLimit(long bytesPerSecond) {
        VcpuGate.checkDirtyLimit(bytesPerSecond);
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
        gate.exit(() -> { });
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
