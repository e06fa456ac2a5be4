package dev.converge.migration.machine.kvm;

import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.machine.VcpuControl;
import dev.converge.migration.machine.VcpuGate;
import dev.converge.migration.machine.VcpuGate.Mode;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiFunction;

/**
 * KVM vCPUs, one platform thread each, looping in KVM_RUN and handling its exits.
 * <p>
 * Kicking a vCPU out of KVM_RUN needs no Java signal handler: each vCPU thread blocks
 * {@link #kickSignal} (a real-time signal) with pthread_sigmask, and KVM_SET_SIGNAL_MASK
 * unblocks it only while the guest runs. {@link #kick} sets kvm_run.immediate_exit (so a vCPU
 * just about to enter KVM_RUN returns at once) and sends the signal with tgkill: KVM_RUN
 * returns -EINTR, the signal stays pending (blocked again outside KVM_RUN) and the thread
 * takes it with sigtimedwait before looking at why it was kicked.
 * <p>
 * Mode transitions are a {@link VcpuGate}'s, as for the software vCPUs ({@link #stop} returns
 * once every vCPU is out of KVM_RUN and parked). State save and restore run with
 * {@link #onEveryVcpu} while stopped: vCPU 0's on the caller, the others' queued to their own threads.
 */
final class KvmVcpus implements VcpuControl {
    /** The throttle's period: each vCPU sleeps percent% of every period (QEMU's 10 ms timeslice). */
    static final long THROTTLE_PERIOD_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    /** One vCPU and its thread. */
    private final class Runner {
        final KvmVcpu vcpu;
        final Thread thread;
        /** Kernel thread id, set by the thread before the constructor returns. */
        volatile int tid;
        /** Work for this thread while stopped; guarded by lock. */
        final Queue<Runnable> tasks = new ArrayDeque<>();
        /**
         * Out of the guest until the next mode change: halted (a HLT exit) or shut down (a triple
         * fault, whose reset stops and resumes the vCPUs); guarded by lock.
         */
        boolean halted;
        /** When a latency probe kicked this vCPU (System.nanoTime), 0 when none is pending. */
        final AtomicLong probeAt = new AtomicLong();
        /**
         * Recent time from a kick to this thread being out of KVM_RUN, ns (a moving average);
         * written by this vCPU's thread only.
         */
        volatile long kickLatency;
        /** Nanoseconds to sleep before re-entering the guest (the throttle). */
        final AtomicLong hold = new AtomicLong();

        Runner(KvmVcpu vcpu, String machineName) {
            this.vcpu = vcpu;
            this.thread = Thread.ofPlatform().name(machineName + "-vcpu-" + vcpu.id()).daemon().unstarted(() -> loop(this));
        }
    }

    private final List<Runner> runners = new ArrayList<>();
    private final GuestPorts ports;
    private final int kickSignal;
    private final int pid = LibC.getpid();
    private final Thread throttler;
    /**
     * {@link #kickEveryVcpu} as the gate takes it: linked once here, not at the first stop, which
     * is a switchover's, inside its downtime (a method reference's first use links a class).
     */
    private final Runnable kickAll = this::kickEveryVcpu;

    /** Mode and parking; its lock also guards each Runner's tasks and halted flag. */
    private final VcpuGate gate;
    /** The gate's lock. */
    private final ReentrantLock lock;
    /** The gate's condition, signalled on every mode change, task and park. */
    private final Condition changed;
    private volatile int throttlePercent;
    private volatile long dirtyLimit;
    /** The first failure (an unknown exit, a failed KVM_RUN); volatile: read by anyone. */
    private volatile Throwable failure;
    /** Collects the dirty rings when a vCPU's is full; volatile: set once at wiring time, read by vCPU threads. */
    private volatile java.util.function.IntConsumer dirtyRingFull = vcpu -> { };
    /** Told when a vCPU triple-faults (KVM_EXIT_SHUTDOWN); volatile: set once at wiring time, read by vCPU threads. */
    private volatile Runnable guestReset = () -> { };

    /**
     * Starts a thread per vCPU, stopped; each first runs {@code init} on its vCPU (on its own
     * thread, as KVM prefers), and the constructor returns when all have.
     */
    KvmVcpus(String machineName, List<KvmVcpu> vcpus, GuestPorts ports, java.util.function.Consumer<KvmVcpu> init) {
        this.ports = ports;
        this.gate = new VcpuGate(vcpus.size());
        this.lock = gate.lock();
        this.changed = gate.changed();
        this.kickSignal = LibC.sigrtmin() + 4;
        CountDownLatch ready = new CountDownLatch(vcpus.size());
        List<Throwable> initFailures = java.util.Collections.synchronizedList(new ArrayList<>());
        for (KvmVcpu v : vcpus) {
            Runner r = new Runner(v, machineName);
            runners.add(r);
        }
        for (Runner r : runners) {
            r.tasks.add(() -> {
                try {
                    init.accept(r.vcpu);
                } catch (RuntimeException | Error e) {
                    initFailures.add(e);
                } finally {
                    ready.countDown();
                }
            });
            r.thread.start();
        }
        try {
            ready.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!initFailures.isEmpty()) {
            close();
            RuntimeException e = new IllegalStateException("vCPU setup failed: " + initFailures.get(0).getMessage(), initFailures.get(0));
            throw e;
        }
        this.throttler = Thread.ofVirtual().name(machineName + "-throttle").unstarted(this::throttleLoop);
        throttler.start();
    }

    private void loop(Runner r) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment only = LibC.sigset(arena, kickSignal);
            MemorySegment zero = arena.allocate(16, 8);
            zero.fill((byte) 0);
            try {
                MemorySegment old = arena.allocate(LibC.LIBC_SIGSET_BYTES);
                LibC.pthreadSigmask(LibC.SIG_BLOCK, only, old);
                r.tid = LibC.gettid(); // kicks only once the signal is blocked here
                // In the guest: what this thread blocked before, but never the kick signal.
                MemorySegment inGuest = arena.allocate(LibC.KERNEL_SIGSET_BYTES);
                MemorySegment.copy(old, 0, inGuest, 0, LibC.KERNEL_SIGSET_BYTES);
                int bit = kickSignal - 1;
                inGuest.set(ValueLayout.JAVA_BYTE, bit / 8, (byte) (inGuest.get(ValueLayout.JAVA_BYTE, bit / 8) & ~(1 << (bit % 8))));
                r.vcpu.setSignalMask(inGuest);
                run(r, only, zero);
            } catch (RuntimeException | Error e) {
                fail(e);
                lock.lock();
                try {
                    gate.parked();
                    while (gate.mode() != Mode.EXITING) {
                        runTasks(r);
                        changed.awaitUninterruptibly();
                    }
                } finally {
                    lock.unlock();
                }
            } finally {
                // Every kick is sent under the lock before this thread saw EXITING: take them all,
                // or the JVM's thread exit (which unblocks signals) would deliver one.
                takeKicks(only, zero);
            }
        }
    }

    private void run(Runner r, MemorySegment kick, MemorySegment zero) {
        boolean failed = false;
        while (true) {
            lock.lock();
            try {
                if (gate.mode() != Mode.RUNNING || r.halted || failed || !r.tasks.isEmpty()) {
                    // A probe's kick taken now would be timed only after the park (seconds later,
                    // on the next resume): it measures nothing about leaving the guest, so drop it.
                    r.probeAt.set(0);
                    gate.parked();
                    while (gate.mode() != Mode.RUNNING || r.halted || failed || !r.tasks.isEmpty()) {
                        if (gate.mode() == Mode.EXITING) {
                            return;
                        }
                        runTasks(r);
                        long seen = gate.generation();
                        while (gate.generation() == seen && r.tasks.isEmpty()) {
                            changed.awaitUninterruptibly();
                        }
                        if (gate.generation() != seen) {
                            r.halted = false;
                        }
                    }
                    gate.unparked();
                }
            } finally {
                lock.unlock();
            }
            long hold = r.hold.getAndSet(0);
            if (hold > 0) {
                gate.sleepWhileRunning(hold);
                continue;
            }
            int rc = r.vcpu.run();
            r.vcpu.requestImmediateExit(false);
            if (rc == -LibC.EINTR || rc == -LibC.EAGAIN) {
                takeKicks(kick, zero);
                long probe = r.probeAt.getAndSet(0);
                if (probe != 0) {
                    r.kickLatency = nextKickLatency(r.kickLatency, System.nanoTime() - probe);
                }
                continue;
            }
            if (rc < 0) {
                fail(new NativeException("KVM_RUN (vCPU " + r.vcpu.id() + ")", -rc));
                failed = true;
                continue;
            }
            int reason = r.vcpu.exitReason();
            switch (reason) {
                case Kvm.EXIT_IO -> handleIo(r.vcpu.runArea());
                case Kvm.EXIT_HLT -> park(r);
                case Kvm.EXIT_INTR -> { }
                case Kvm.EXIT_DIRTY_RING_FULL -> dirtyRingFull.accept(r.vcpu.id()); // the kernel lets it in again once its ring is reset
                case Kvm.EXIT_SHUTDOWN -> {
                    // A triple fault: the guest asks for a reset. Re-entering would fault again; this
                    // vCPU waits for the machine to stop, reset and resume the vCPUs.
                    park(r);
                    guestReset.run();
                }
                default -> {
                    fail(new IllegalStateException("vCPU " + r.vcpu.id() + " stopped: KVM exit reason " + reason + describeExit(r.vcpu)));
                    failed = true;
                }
            }
        }
    }

    /**
     * Takes every pending kick: real-time signals queue, so kicks sent while this thread was
     * parked (a stop before it ran, then a close) are several instances, not one.
     */
    private static void takeKicks(MemorySegment kick, MemorySegment zero) {
        while (LibC.takePendingSignal(kick, zero) != 0) {
            // next instance
        }
    }

    private static String describeExit(KvmVcpu vcpu) {
        long detail = vcpu.runArea().get(ValueLayout.JAVA_LONG, 32);
        return " (detail 0x" + Long.toHexString(detail) + ")";
    }

    /** A port I/O exit: the data sits in the kvm_run area at data_offset, count items of size bytes. */
    private void handleIo(MemorySegment run) {
        int direction = Byte.toUnsignedInt((byte) KvmLayouts.RUN_IO_DIRECTION.get(run, 0L));
        int size = Byte.toUnsignedInt((byte) KvmLayouts.RUN_IO_SIZE.get(run, 0L));
        int port = Short.toUnsignedInt((short) KvmLayouts.RUN_IO_PORT.get(run, 0L));
        int count = (int) KvmLayouts.RUN_IO_COUNT.get(run, 0L);
        long offset = (long) KvmLayouts.RUN_IO_DATA_OFFSET.get(run, 0L);
        for (int i = 0; i < count; i++) {
            for (int b = 0; b < size; b++) {
                long at = offset + (long) i * size + b;
                if (direction == Kvm.EXIT_IO_OUT) {
                    ports.write(port + b, Byte.toUnsignedInt(run.get(ValueLayout.JAVA_BYTE, at)));
                } else {
                    run.set(ValueLayout.JAVA_BYTE, at, (byte) ports.read(port + b));
                }
            }
        }
    }

    private void park(Runner r) {
        lock.lock();
        try {
            r.halted = true;
        } finally {
            lock.unlock();
        }
    }

    /** Sets what collects the dirty rings when a vCPU's ring is full (runs on that vCPU's thread). */
    void onDirtyRingFull(java.util.function.IntConsumer collector) {
        dirtyRingFull = java.util.Objects.requireNonNull(collector);
    }

    /** Sets who is told of a triple fault (called on the vCPU's thread; must not block). */
    void onGuestReset(Runnable listener) {
        guestReset = java.util.Objects.requireNonNull(listener);
    }

    private void runTasks(Runner r) {
        assert lock.isHeldByCurrentThread();
        Runnable t;
        while ((t = r.tasks.poll()) != null) {
            t.run();
        }
    }

    private void fail(Throwable t) {
        if (failure == null) {
            failure = t;
        }
    }

    private void kick(Runner r) {
        r.vcpu.requestImmediateExit(true);
        LibC.tgkill(pid, r.tid, kickSignal);
    }

    /** Every period, while throttled and running, each vCPU is kicked to sleep its share. */
    private void throttleLoop() {
        while (true) {
            lock.lock();
            try {
                while (gate.mode() != Mode.EXITING && (gate.mode() != Mode.RUNNING || throttlePercent == 0)) {
                    changed.awaitUninterruptibly();
                }
                if (gate.mode() == Mode.EXITING) {
                    return;
                }
                long deadline = System.nanoTime() + THROTTLE_PERIOD_NANOS;
                long left = THROTTLE_PERIOD_NANOS;
                while (left > 0 && gate.mode() == Mode.RUNNING) {
                    changed.awaitNanos(left);
                    left = deadline - System.nanoTime();
                }
                int pct = throttlePercent;
                if (gate.mode() == Mode.RUNNING && pct > 0) {
                    for (Runner r : runners) {
                        r.hold.set(THROTTLE_PERIOD_NANOS * pct / 100);
                        kick(r);
                    }
                }
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Runs {@code work} for every vCPU and returns the results in vCPU order: vCPU 0's on the
     * calling thread, every other vCPU's on its own thread, queued before vCPU 0's begins. The
     * vCPUs must be stopped.
     * <p>
     * Why vCPU 0 on the caller: handing work to a parked vCPU thread and waiting for its answer is
     * two thread wake-ups, and on this project's nested hosts each is milliseconds when the CPUs
     * idle (measured in a 2 GiB switchover: the destination's state load took 6.7-7.2 ms through
     * its vCPU thread, 2.5-3.2 ms on the receiving thread; the ioctls themselves about 1 ms). The
     * switchover saves and loads inside the downtime. KVM allows any thread's vCPU ioctls (its API
     * document: only the first ioctl after a change of thread may cost more); KVM_RUN stays on
     * the vCPU's own thread. The others' tasks run under the gate's lock, as this one does, so
     * there was no parallelism to lose.
     */
    <T> List<T> onEveryVcpu(BiFunction<Integer, KvmVcpu, T> work) {
        List<CompletableFuture<T>> results = new ArrayList<>();
        T first;
        RuntimeException firstFailure = null;
        lock.lock();
        try {
            if (gate.mode() == Mode.RUNNING) {
                throw new IllegalStateException("vCPU state accessed while the vCPUs run");
            }
            for (int n = 1; n < runners.size(); n++) {
                int i = n;
                Runner r = runners.get(i);
                CompletableFuture<T> result = new CompletableFuture<>();
                results.add(result);
                r.tasks.add(() -> {
                    try {
                        result.complete(work.apply(i, r.vcpu));
                    } catch (RuntimeException | Error e) {
                        result.completeExceptionally(e);
                    }
                });
            }
            changed.signalAll();
            try {
                first = work.apply(0, runners.get(0).vcpu);
            } catch (RuntimeException e) {
                first = null;
                firstFailure = e; // the others' tasks are queued: wait for them before failing
            }
        } finally {
            lock.unlock();
        }
        List<T> out = new ArrayList<>();
        out.add(first);
        for (int k = 0; k < results.size(); k++) {
            try {
                out.add(results.get(k).get());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for vCPU " + (k + 1), e);
            } catch (ExecutionException e) {
                if (firstFailure == null) {
                    firstFailure = e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
                }
            }
        }
        if (firstFailure != null) {
            throw firstFailure;
        }
        return out;
    }

    /**
     * A vCPU's kick latency after one more sample, ns: a moving average (1/4 weight), so that one
     * kick delayed by a busy host does not keep the estimate high for many passes, nor one lucky
     * kick make it low; the first sample stands alone.
     */
    static long nextKickLatency(long before, long sample) {
        return before == 0 ? sample : before + ((sample - before) >> 2);
    }

    /**
     * Kicks each vCPU that runs guest code once to measure how long leaving KVM_RUN takes
     * ({@link #kickLatency}); does not wait. Costs each such vCPU one exit. A halted vCPU is left
     * alone: it is parked already, and a stop does not wait for it.
     */
    void probeKickLatency() {
        lock.lock();
        try {
            if (gate.mode() != Mode.RUNNING) {
                return;
            }
            for (Runner r : runners) {
                if (!r.halted && r.probeAt.compareAndSet(0, System.nanoTime())) {
                    kick(r);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * What a stop waits for now, ns: the slowest recent kick latency among the vCPUs that run
     * guest code (the kicks go out together, so the slowest decides; a halted vCPU is parked
     * already and costs nothing). 0 before the first probe.
     */
    long kickLatency() {
        lock.lock();
        try {
            long max = 0;
            for (Runner r : runners) {
                if (!r.halted) {
                    max = Math.max(max, r.kickLatency);
                }
            }
            return max;
        } finally {
            lock.unlock();
        }
    }

    int count() {
        return runners.size();
    }

    @Override
    public void resume() {
        gate.resume();
    }

    @Override
    public void stop() {
        gate.stop(kickAll);
    }

    /**
     * Kicks every vCPU at once (immediate_exit and the signal; no wait), so that they leave the
     * guest in parallel while the caller works; {@link #stop} then waits for the last.
     */
    @Override
    public boolean requestStop() {
        return gate.requestStop(kickAll);
    }

    private void kickEveryVcpu() {
        for (Runner r : runners) {
            kick(r);
        }
    }

    @Override
    public boolean isRunning() {
        return gate.isRunning();
    }

    @Override
    public void setThrottle(int percent) {
        VcpuGate.checkThrottle(percent);
        lock.lock();
        try {
            throttlePercent = percent;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int throttle() {
        return throttlePercent;
    }

    /**
     * The dirty limit: {@link KvmAccelerator#collectDirtyLog} measures the vCPUs' dirty rate
     * and steers the throttle so that each vCPU stays under the cap.
     */
    @Override
    public void setDirtyLimit(long bytesPerSecond) {
        dirtyLimit = VcpuGate.checkDirtyLimit(bytesPerSecond);
        if (bytesPerSecond == 0) {
            setThrottle(0);
        }
    }

    @Override
    public long dirtyLimit() {
        return dirtyLimit;
    }

    /**
     * Steers the throttle toward the dirty limit from one measurement: {@code pages} newly
     * dirtied in {@code nanos} by all vCPUs. Multiplicative, as QEMU's dirty limit adjusts its
     * sleep: the running share shrinks by the ratio over the cap, grows back by at most 10
     * points when under it.
     */
    void steerDirtyLimit(long pages, long nanos) {
        long cap = dirtyLimit;
        if (cap == 0 || nanos <= 0) {
            return;
        }
        setThrottle(nextThrottle(throttlePercent, pages, nanos, runners.size(), cap));
    }

    /**
     * The throttle that brings {@code vcpus} vCPUs, which dirtied {@code pages} in {@code nanos}
     * at throttle {@code percent}, under {@code cap} bytes per second each (a pure function).
     */
    static int nextThrottle(int percent, long pages, long nanos, int vcpus, long cap) {
        double perVcpu = pages * (double) RamBlock.PAGE_SIZE * 1e9 / nanos / vcpus;
        double running = (100 - percent) / 100.0;
        double next = perVcpu > cap ? running * cap / perVcpu : Math.min(1.0, running + 0.10);
        return (int) Math.max(0, Math.min(99, Math.round(100 - next * 100)));
    }

    @Override
    public Throwable failure() {
        return failure;
    }

    @Override
    public void close() {
        gate.exit(() -> {
            for (Runner r : runners) {
                if (r.tid != 0 && r.thread.isAlive()) {
                    kick(r);
                }
            }
        });
        for (Runner r : runners) {
            try {
                r.thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            r.vcpu.close();
        }
        if (throttler != null) {
            throttler.interrupt();
        }
    }
}
