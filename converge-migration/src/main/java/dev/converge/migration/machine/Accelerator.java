package dev.converge.migration.machine;

import java.nio.ByteBuffer;

/**
 * A machine's backend: what runs the vCPUs and tracks the pages they dirty. The migration
 * sees only this seam (through {@link Machine}): sync the dirty log, stop and resume the
 * vCPUs, save and load the backend's device state.
 * <p>
 * {@code software} is converge's model: Java threads run a {@link Workload}, every guest write
 * goes through {@link RamBlock}'s write path, which marks the {@link DirtyLog}. {@code kvm}
 * (package {@code machine.kvm}) runs real guest code on KVM vCPUs; the kernel keeps the
 * dirty log and {@link #collectDirtyLog} moves it into the same {@link DirtyLog}s.
 */
public interface Accelerator extends AutoCloseable {
    /** The kinds of accelerator ({@code accel=NAME}); the ordinal is the id in device state. */
    enum Kind {
        SOFTWARE("software"), KVM("kvm");

        private final String wireName;

        Kind(String wireName) {
            this.wireName = wireName;
        }

        /** The name on the command line. */
        public String wireName() {
            return wireName;
        }
    }

    /** Which accelerator this is. */
    Kind kind();

    /** The vCPUs. */
    VcpuControl vcpus();

    /**
     * Moves the dirty pages tracked outside the guest write path (the kernel's dirty log)
     * into the RAM blocks' {@link DirtyLog}s; called at the start of every dirty log sync.
     * Pages written after their bit was collected are collected by the next call.
     */
    void collectDirtyLog();

    /** The backend's own device state (vCPU registers, in-kernel devices); vCPUs stopped. */
    byte[] saveState();

    /**
     * Loads state saved by {@link #saveState} of an accelerator of the same kind and machine
     * spec (a destination in {@code inmigrate}).
     *
     * @throws IllegalArgumentException naming what does not match
     */
    void loadState(ByteBuffer in);

    /**
     * What moving this accelerator's state (saving it here, loading it on the destination) adds
     * to a switchover's downtime beyond sending RAM (measured by the accelerator; zero for the
     * software model, whose state is a few bytes).
     */
    default java.time.Duration switchoverCost() {
        return java.time.Duration.ZERO;
    }

    /**
     * How long the vCPUs take, as recently measured, from a stop request until none runs guest
     * code: part of the downtime, but one the sender overlaps with sending when
     * {@link VcpuControl#requestStop()} lets it. Zero for the software model, whose vCPUs stop at
     * their next step.
     */
    default java.time.Duration stopCost() {
        return java.time.Duration.ZERO;
    }

    /**
     * Whether {@link #reset} is supported: the KVM accelerator resets; the software model's
     * workload has no power-on state to return to.
     */
    default boolean canReset() {
        return false;
    }

    /**
     * Puts the machine in its power-on state, as a reset button would: vCPUs and in-kernel
     * devices to their reset values, the boot code reloaded as a BIOS loads it (the rest of
     * RAM keeps its contents, as on QEMU). The vCPUs are stopped; pages the reset writes are
     * marked dirty, so that a migration in progress sends them.
     *
     * @throws UnsupportedOperationException unless {@link #canReset}
     */
    default void reset() {
        throw new UnsupportedOperationException("the " + kind().wireName() + " accelerator cannot reset");
    }

    /**
     * Sets who is told when the guest asks for a reset (x86: a triple fault). Called on a vCPU
     * thread, which then stays out of the guest until the vCPUs are next stopped and resumed:
     * the listener must not block (the machine handles the request on a thread of its own).
     */
    default void onGuestReset(Runnable listener) {
    }

    /** Stops the vCPUs for good and frees what the backend holds (not the RAM). */
    @Override
    void close();

    /** Creates the RAM and the accelerator of a machine. */
    interface Factory {
        /** Allocates zeroed guest RAM of {@code layout}. */
        GuestRam allocateRam(java.util.List<GuestRam.BlockInfo> layout);

        /** Creates the accelerator over {@code ram}, its vCPUs stopped. */
        Accelerator create(String machineName, MachineSpec spec, GuestRam ram, Workload workload, RunState initial);
    }
}
