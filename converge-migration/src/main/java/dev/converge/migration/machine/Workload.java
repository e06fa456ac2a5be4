package dev.converge.migration.machine;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * What the vCPUs run. {@link Vcpus} calls {@link #step} on vCPU thread {@code i} in a loop,
 * with a safe point between steps; a step's writes all go through the RAM's guest write path.
 * <p>
 * Workload state (pass counters, cursors, RNG state) is device state: it migrates with
 * {@link #save}/{@link #load}. Per-vCPU state is written only by that vCPU's thread while the
 * vCPUs run, and read or replaced by save/load only while they are stopped: the stop and
 * resume handshake of {@link Vcpus} (one lock) orders the two.
 */
public sealed interface Workload permits IdleWorkload, PatternWorkload, StressWorkload {
    /** Which workload this is. */
    WorkloadKind kind();

    /**
     * One unit of work on vCPU {@code vcpu}.
     *
     * @return the number of pages written, or -1 when there is nothing to do (the vCPU parks)
     */
    int step(int vcpu);

    /**
     * This step's disk write, on vCPU {@code vcpu} after a step that wrote pages, when the
     * machine has a disk: one 4 KiB block, so disk writes keep pace with RAM writes. The
     * default writes nothing.
     *
     * @throws IOException when the block layer fails the write (the vCPU stops with it)
     */
    default void writeDisk(int vcpu, DiskWriter disk, long diskSize) throws IOException {
    }

    /** Bytes {@link #save} writes. */
    int stateSize();

    /** Writes the workload state (little-endian) into {@code out}. vCPUs must be stopped. */
    void save(ByteBuffer out);

    /** Replaces the workload state from {@code in}; vCPUs must be stopped. */
    void load(ByteBuffer in);

    /** Creates the workload of {@code spec} over {@code ram}. */
    static Workload create(MachineSpec spec, RamBlock ram) {
        long wsPages = spec.workingSetOrMemory() / RamBlock.PAGE_SIZE;
        return switch (spec.workload()) {
            case IDLE -> new IdleWorkload();
            case PATTERN -> new PatternWorkload(ram, wsPages, spec.vcpus());
            case STRESS -> new StressWorkload(ram, wsPages, spec.vcpus());
        };
    }
}
