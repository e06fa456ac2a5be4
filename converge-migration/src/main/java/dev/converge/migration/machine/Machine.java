package dev.converge.migration.machine;

import dev.converge.qmp.QmpException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A guest whose state moves: RAM ({@link GuestRam}: block {@value #RAM_BLOCK} of the spec's
 * memory size and a small {@value #ROM_BLOCK}), vCPUs running a workload, device state (the
 * workload state) and its run state.
 * <p>
 * The run state changes only through {@link #transition}, which checks {@link RunState#TRANSITIONS}
 * and starts or stops the vCPUs to match ({@link RunState#vcpusRun()}); the vCPUs therefore
 * run exactly while the state is {@code running}. State changes are serialized by {@link #lock}.
 */
public final class Machine implements AutoCloseable {
    /** Name of the main RAM block, which the workload writes. */
    public static final String RAM_BLOCK = "pc.ram";
    /** Name of a small second block (firmware), so that every stream carries several blocks. */
    public static final String ROM_BLOCK = "pc.rom";
    /** Size of {@value #ROM_BLOCK}. */
    public static final long ROM_SIZE = 128 << 10;

    /** Version of the device state layout; see {@link #saveDeviceState()}. */
    static final int DEVICE_STATE_VERSION = 1;
    private static final int DEVICE_STATE_HEADER = 16;
    /** Device state flag: the source's vCPUs were stopped when the switchover began. */
    private static final int FLAG_SOURCE_STOPPED = 1;

    private final String name;
    private final MachineSpec spec;
    private final GuestRam ram;
    private final Workload workload;
    private final Accelerator accel;

    private final ReentrantLock lock = new ReentrantLock();
    /** Guarded by lock; see {@link RunState} for the arrows. */
    private RunState state = RunState.PRELAUNCH;
    /** Whether a completed incoming migration starts the vCPUs (QEMU's autostart); guarded by lock. */
    private boolean autostart = true;
    /** The run state an outgoing switchover began in (running or paused), null outside one; guarded by lock. */
    private RunState switchoverFrom;
    /**
     * Whether the device state loaded by an incoming migration says the source's vCPUs were
     * stopped (QEMU's global state): the machine then stays paused whatever autostart says.
     * Guarded by lock.
     */
    private boolean sourceStopped;
    /** Told when the vCPUs stop and start; set once at wiring time, called under {@link #lock}. */
    private volatile RunStateListener runStateListener = RunStateListener.NONE;
    /** What a reset request does (set-action, --action); guarded by lock. */
    private GuestActions actions = GuestActions.DEFAULT;
    /**
     * A guest reset requested while a migration moved the machine (inmigrate, finish-migrate):
     * carried out when the vCPUs next start, so the switchover is not disturbed. Guarded by lock.
     */
    private boolean guestResetPending;
    /** Set by {@link #close}; guarded by lock. */
    private boolean closed;
    /** The disk ({@code disk=NODE}), or null; volatile: attached once at wiring time, read by QMP handlers. */
    private volatile MachineDisk disk;

    private Machine(String name, MachineSpec spec, Accelerator.Factory backend, RunState initial) {
        this.name = Objects.requireNonNull(name);
        this.spec = spec;
        this.ram = backend.allocateRam(List.of(new GuestRam.BlockInfo(RAM_BLOCK, spec.memory()),
                new GuestRam.BlockInfo(ROM_BLOCK, ROM_SIZE)));
        try {
            this.workload = Workload.create(spec, ram.blocks().get(0));
            this.accel = backend.create(name, spec, ram, workload, initial);
        } catch (RuntimeException | Error e) {
            ram.close();
            throw e;
        }
        ram.attachExternalDirtyLog(accel::collectDirtyLog);
        // The vCPU that asked must not wait (the reset stops every vCPU, itself included).
        accel.onGuestReset(() -> Thread.ofVirtual().name(name + "-reset").start(this::guestResetRequested));
    }

    /**
     * Creates a machine in {@code initial}: {@code prelaunch}, {@code running} (vCPUs start at
     * once) or {@code inmigrate} (a destination waiting for an incoming migration).
     */
    public static Machine create(String name, MachineSpec spec, RunState initial) {
        return create(name, spec, initial, SoftwareAccelerator.FACTORY);
    }

    /** Creates a machine on the accelerator {@code backend} makes (see {@link #create(String, MachineSpec, RunState)}). */
    public static Machine create(String name, MachineSpec spec, RunState initial, Accelerator.Factory backend) {
        return create(name, spec, initial, backend, GuestActions.DEFAULT);
    }

    /** As {@link #create(String, MachineSpec, RunState, Accelerator.Factory)} with {@code actions} in force from the start. */
    public static Machine create(String name, MachineSpec spec, RunState initial, Accelerator.Factory backend, GuestActions actions) {
        Machine m = new Machine(name, spec, backend, initial);
        m.setActions(actions);
        if (initial != RunState.PRELAUNCH) {
            m.lock.lock();
            try {
                m.transitionLocked(initial);
            } finally {
                m.lock.unlock();
            }
        }
        return m;
    }

    /** The machine's name (used for its thread names). */
    public String name() {
        return name;
    }

    public MachineSpec spec() {
        return spec;
    }

    public GuestRam ram() {
        return ram;
    }

    public Workload workload() {
        return workload;
    }

    /** The vCPUs (stop/resume through {@link #transition}; throttle and dirty limit directly). */
    public VcpuControl vcpus() {
        return accel.vcpus();
    }

    /** The backend that runs the vCPUs. */
    public Accelerator accelerator() {
        return accel;
    }

    /**
     * Attaches the disk the workload also writes (at wiring time, before the vCPUs first run
     * is best; a later attach takes effect at the next step).
     */
    public void attachDisk(MachineDisk d) {
        if (!(accel.vcpus() instanceof Vcpus software)) {
            throw new IllegalArgumentException("disk: the " + accel.kind().wireName() + " accelerator's guest does not write a disk");
        }
        disk = java.util.Objects.requireNonNull(d);
        software.setDisk(d);
    }

    /** The disk, if one is attached. */
    public java.util.Optional<MachineDisk> disk() {
        return java.util.Optional.ofNullable(disk);
    }

    /** The current run state. */
    public RunState runState() {
        lock.lock();
        try {
            return state;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The one chokepoint for run state changes. An illegal transition is a bug of the caller
     * and throws {@link IllegalStateException}. Returns once the vCPUs match the new state (a
     * stop waits for their safe point).
     */
    public void transition(RunState next) {
        lock.lock();
        try {
            transitionLocked(next);
        } finally {
            lock.unlock();
        }
    }

    private void transitionLocked(RunState next) {
        assert lock.isHeldByCurrentThread();
        if (!state.canGoTo(next)) {
            throw new IllegalStateException("invalid runstate transition: '" + state.wireName() + "' -> '" + next.wireName() + "'");
        }
        boolean wasRunning = state.vcpusRun();
        if (!wasRunning && next.vcpusRun()) {
            runStateListener.resuming(); // QEMU announces RESUME just before the vCPUs start (vm_prepare_start)
        }
        state = next;
        if (next.vcpusRun()) {
            accel.vcpus().resume();
        } else {
            accel.vcpus().stop();
        }
        if (wasRunning && !next.vcpusRun()) {
            runStateListener.stopped(); // and STOP once they have stopped (do_vm_stop)
        }
        if (next.vcpusRun() && guestResetPending) {
            resetLocked(ShutdownCause.GUEST_RESET);
        }
    }

    /** What a reset request does from now on (QMP set-action, --action). */
    public void setActions(GuestActions a) {
        lock.lock();
        try {
            actions = Objects.requireNonNull(a);
        } finally {
            lock.unlock();
        }
    }

    /** The current actions. */
    public GuestActions actions() {
        lock.lock();
        try {
            return actions;
        } finally {
            lock.unlock();
        }
    }

    /**
     * QMP {@code system_reset}: a reset request from the host, which the reboot action turns
     * into a reset or a shutdown as a guest's would be (QEMU's qemu_system_reset_request).
     *
     * @throws QmpException when this machine cannot reset, or while a migration moves it; nothing changed
     */
    public void systemReset() {
        lock.lock();
        try {
            if (!accel.canReset()) {
                throw QmpException.generic("The %s machine cannot reset (system_reset needs accel=kvm)", accel.kind().wireName());
            }
            if (state == RunState.INMIGRATE || state == RunState.FINISH_MIGRATE) {
                throw QmpException.generic("Cannot reset the machine in run state '%s' (a migration is moving it)", state.wireName());
            }
            resetLocked(ShutdownCause.HOST_QMP_SYSTEM_RESET);
        } finally {
            lock.unlock();
        }
    }

    /** A vCPU asked for a reset (a triple fault); runs on a thread of its own. */
    private void guestResetRequested() {
        lock.lock();
        try {
            if (closed) {
                return; // asked just before the machine closed: nothing left to reset
            }
            if (state == RunState.INMIGRATE || state == RunState.FINISH_MIGRATE) {
                guestResetPending = true; // the vCPU stays out of the guest; the next start resets
            } else {
                resetLocked(ShutdownCause.GUEST_RESET);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * A reset request, as QEMU's main loop handles one: with reboot=shutdown, SHUTDOWN and a
     * running machine goes to {@code shutdown} (STOP follows); else the vCPUs stop, the
     * accelerator resets, RESET is announced and a running machine runs on (no STOP or RESUME:
     * the run state stays {@code running}); a stopped one goes to {@code prelaunch}, from which
     * {@code cont} boots it.
     */
    private void resetLocked(ShutdownCause cause) {
        assert lock.isHeldByCurrentThread();
        guestResetPending = false;
        if (actions.reboot() == GuestActions.Reboot.SHUTDOWN) {
            runStateListener.shutdown(cause);
            if (state == RunState.RUNNING) {
                transitionLocked(RunState.SHUTDOWN);
            }
            return;
        }
        boolean running = state.vcpusRun();
        if (running) {
            accel.vcpus().stop();
        }
        accel.reset();
        runStateListener.reset(cause); // QEMU announces RESET once the machine is reset, before the vCPUs go on
        if (running) {
            accel.vcpus().resume();
        } else if (state != RunState.PRELAUNCH) {
            transitionLocked(RunState.PRELAUNCH);
        }
    }

    /**
     * What is told of the vCPUs starting and stopping: QEMU's RESUME and STOP events, which
     * management software follows the guest's run state by. Only a change between a state in
     * which the vCPUs run and one in which they do not counts (paused to postmigrate is none).
     * Called under the machine's lock, in the order of the changes: implementations only enqueue.
     */
    public interface RunStateListener {
        RunStateListener NONE = new RunStateListener() {
            @Override
            public void resuming() {
            }

            @Override
            public void stopped() {
            }
        };

        /** The vCPUs are about to run (a stopped state goes to running). */
        void resuming();

        /** The vCPUs stopped (running went to a stopped state). */
        void stopped();

        /** The machine was reset (QEMU's RESET event). */
        default void reset(ShutdownCause cause) {
        }

        /** The machine shuts down instead of resetting (QEMU's SHUTDOWN event). */
        default void shutdown(ShutdownCause cause) {
        }
    }

    /** Sets who is told when the vCPUs stop or start. Once, at wiring time. */
    public void setRunStateListener(RunStateListener l) {
        runStateListener = Objects.requireNonNull(l);
    }

    /**
     * QMP {@code stop}: pauses a running machine; on a destination waiting for an incoming
     * migration it only clears autostart (as QEMU); otherwise nothing changes.
     */
    public void stop() {
        lock.lock();
        try {
            if (state == RunState.INMIGRATE) {
                autostart = false;
            } else if (state == RunState.RUNNING) {
                transitionLocked(RunState.PAUSED);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * QMP {@code cont}: resumes the vCPUs. On a destination waiting for an incoming migration it
     * sets autostart instead, as QEMU does; while an outgoing migration finishes it is refused
     * with QEMU's "Migration is not finalized yet", and after a shutdown with QEMU's "Resetting the
     * Virtual Machine is required" (system_reset first).
     *
     * @throws QmpException when refused; nothing changed
     */
    public void cont() {
        lock.lock();
        try {
            switch (state) {
                case RUNNING -> { }
                case INMIGRATE -> autostart = true;
                case FINISH_MIGRATE -> throw QmpException.generic("Migration is not finalized yet");
                case SHUTDOWN -> throw QmpException.generic("Resetting the Virtual Machine is required");
                case PRELAUNCH, PAUSED, POSTMIGRATE, INTERNAL_ERROR -> transitionLocked(RunState.RUNNING);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops the vCPUs for the last step of an outgoing migration ({@code finish-migrate}).
     *
     * @return the state to return to if the migration fails
     * @throws IllegalStateException unless running or paused
     */
    public RunState beginSwitchover() {
        lock.lock();
        try {
            RunState previous = state;
            if (previous != RunState.RUNNING && previous != RunState.PAUSED) {
                throw new IllegalStateException("cannot finish a migration from run state '" + previous.wireName() + "'");
            }
            transitionLocked(RunState.FINISH_MIGRATE);
            switchoverFrom = previous;
            return previous;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Asks running vCPUs to stop ahead of {@link #beginSwitchover}, without waiting and without
     * changing the run state ({@link VcpuControl#requestStop()}): the migration sends meanwhile.
     * Then exactly one of {@link #beginSwitchover} or {@link #withdrawStopRequest} follows.
     *
     * @return whether the vCPUs are on their way out (false: nothing changed)
     */
    public boolean requestStop() {
        lock.lock();
        try {
            return state.vcpusRun() && accel.vcpus().requestStop();
        } finally {
            lock.unlock();
        }
    }

    /** Undoes {@link #requestStop} when the switchover failed before it began: running vCPUs go on. */
    public void withdrawStopRequest() {
        lock.lock();
        try {
            if (state.vcpusRun()) {
                accel.vcpus().resume();
            }
        } finally {
            lock.unlock();
        }
    }

    /** An outgoing migration failed after {@link #beginSwitchover}: back to {@code previous}. */
    public void abortSwitchover(RunState previous) {
        lock.lock();
        try {
            if (state == RunState.FINISH_MIGRATE) {
                transitionLocked(previous);
            }
        } finally {
            lock.unlock();
        }
    }

    /** An outgoing migration completed: the destination owns the guest ({@code postmigrate}). */
    public void completeSwitchover() {
        transition(RunState.POSTMIGRATE);
    }

    /** An incoming migration completed: {@code running} with autostart, else {@code paused}. */
    public void incomingCompleted() {
        lock.lock();
        try {
            // As QEMU's global state: a source that was paused gives a paused destination (no RESUME).
            transitionLocked(autostart && !sourceStopped ? RunState.RUNNING : RunState.PAUSED);
            sourceStopped = false;
        } finally {
            lock.unlock();
        }
    }

    /**
     * An incoming migration failed: the partial RAM is discarded (zeroed) and the machine stays
     * in {@code inmigrate}, ready for the next incoming migration.
     */
    public void incomingFailed() {
        lock.lock();
        try {
            if (state != RunState.INMIGRATE) {
                throw new IllegalStateException("incoming migration failed in run state '" + state.wireName() + "'");
            }
            ram.clear();
            sourceStopped = false;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The device state: version u16, flags u16 (bit 0: the vCPUs were stopped when the switchover
     * began, so the destination stays paused; the other bits 0), vcpus u16, workload u8, accelerator u8
     * ({@link Accelerator.Kind} ordinal: 0 software, 1 kvm), memory u64, then the workload
     * state, then the accelerator's state (none for software); all little-endian. vCPUs must
     * be stopped.
     */
    public byte[] saveDeviceState() {
        lock.lock();
        try {
            if (state.vcpusRun()) {
                throw new IllegalStateException("device state saved while the vCPUs run");
            }
            byte[] accelState = accel.saveState();
            ByteBuffer out = ByteBuffer.allocate(DEVICE_STATE_HEADER + workload.stateSize() + accelState.length)
                    .order(ByteOrder.LITTLE_ENDIAN);
            int flags = switchoverFrom != null && !switchoverFrom.vcpusRun() ? FLAG_SOURCE_STOPPED : 0;
            out.putShort((short) DEVICE_STATE_VERSION).putShort((short) flags).putShort((short) spec.vcpus())
                    .put((byte) workload.kind().ordinal()).put((byte) accel.kind().ordinal()).putLong(spec.memory());
            workload.save(out);
            out.put(accelState);
            return out.array();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Loads device state saved by a machine of the same spec. Only in {@code inmigrate}.
     *
     * @throws IllegalArgumentException naming the field that does not match this machine
     */
    public void loadDeviceState(ByteBuffer src) {
        lock.lock();
        try {
            if (state != RunState.INMIGRATE) {
                throw new IllegalStateException("device state loaded in run state '" + state.wireName() + "'");
            }
            ByteBuffer in = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            if (in.remaining() >= DEVICE_STATE_HEADER && Byte.toUnsignedInt(in.get(in.position() + 7)) != accel.kind().ordinal()) {
                // Checked first: the other accelerator's state has another length as well.
                throw new IllegalArgumentException("device state accelerator: " + Byte.toUnsignedInt(in.get(in.position() + 7))
                        + " (expected: " + accel.kind().ordinal() + ", " + accel.kind().wireName() + ")");
            }
            int expectedSize = DEVICE_STATE_HEADER + workload.stateSize();
            if (accel.kind() == Accelerator.Kind.SOFTWARE ? in.remaining() != expectedSize : in.remaining() < expectedSize) {
                throw new IllegalArgumentException("device state length: " + in.remaining() + " (expected: " + expectedSize + ")");
            }
            int version = Short.toUnsignedInt(in.getShort());
            if (version != DEVICE_STATE_VERSION) {
                throw new IllegalArgumentException("device state version: " + version + " (expected: " + DEVICE_STATE_VERSION + ")");
            }
            int flags = Short.toUnsignedInt(in.getShort());
            int vcpuCount = Short.toUnsignedInt(in.getShort());
            int kind = Byte.toUnsignedInt(in.get());
            int accelKind = Byte.toUnsignedInt(in.get());
            long memory = in.getLong();
            if ((flags & ~FLAG_SOURCE_STOPPED) != 0) {
                throw new IllegalArgumentException("device state flags: " + flags + " (expected: 0 or " + FLAG_SOURCE_STOPPED + ")");
            }
            if (accelKind != accel.kind().ordinal()) {
                throw new IllegalArgumentException("device state accelerator: " + accelKind + " (expected: " + accel.kind().ordinal()
                        + ", " + accel.kind().wireName() + ")");
            }
            if (vcpuCount != spec.vcpus()) {
                throw new IllegalArgumentException("device state vcpus: " + vcpuCount + " (expected: " + spec.vcpus() + ")");
            }
            if (kind != workload.kind().ordinal()) {
                throw new IllegalArgumentException("device state workload: " + kind + " (expected: " + workload.kind().ordinal()
                        + ", " + workload.kind().wireName() + ")");
            }
            if (memory != spec.memory()) {
                throw new IllegalArgumentException("device state memory: " + memory + " (expected: " + spec.memory() + ")");
            }
            workload.load(in);
            accel.loadState(in.slice().order(ByteOrder.LITTLE_ENDIAN));
            sourceStopped = (flags & FLAG_SOURCE_STOPPED) != 0;
        } finally {
            lock.unlock();
        }
    }

    /** SHA-256 of all RAM (see {@link GuestRam#digest()}); consistent only while the vCPUs are stopped. */
    public String ramDigest() {
        return ram.digest();
    }

    /** Stops the vCPU threads for good and frees the RAM. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
        } finally {
            lock.unlock();
        }
        accel.close();
        ram.close();
    }
}
