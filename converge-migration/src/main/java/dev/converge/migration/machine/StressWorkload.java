package dev.converge.migration.machine;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Random 8-byte writes, each to a random aligned word of a random page of the working set
 * (the start of pc.ram). Each vCPU has its own xorshift64* generator; its state is device state.
 */
public final class StressWorkload implements Workload {
    static final int WRITES_PER_STEP = 16;

    private final RamBlock ram;
    private final long pages;
    /** Per vCPU generator state, never zero. Written by vCPU i only (see {@link Workload}). */
    private final long[] rng;

    StressWorkload(RamBlock ram, long pages, int vcpus) {
        this.ram = ram;
        this.pages = pages;
        this.rng = new long[vcpus];
        for (int i = 0; i < vcpus; i++) {
            rng[i] = 0x9E3779B97F4A7C15L * (i + 1);
        }
    }

    @Override
    public WorkloadKind kind() {
        return WorkloadKind.STRESS;
    }

    @Override
    public int step(int vcpu) {
        long x = rng[vcpu];
        for (int k = 0; k < WRITES_PER_STEP; k++) {
            x ^= x >>> 12;
            x ^= x << 25;
            x ^= x >>> 27;
            long r = x * 0x2545F4914F6CDD1DL;
            long page = Long.remainderUnsigned(r, pages);
            long word = (r >>> 40) & 511;
            ram.writeLong((page << RamBlock.PAGE_SHIFT) + word * 8, r);
        }
        rng[vcpu] = x;
        return WRITES_PER_STEP;
    }

    /** Writes a 4 KiB block chosen by the vCPU's generator, filled with its state. */
    @Override
    public void writeDisk(int vcpu, DiskWriter disk, long diskSize) throws IOException {
        long blocks = diskSize / RamBlock.PAGE_SIZE;
        if (blocks == 0) {
            return;
        }
        long r = rng[vcpu] * 0x2545F4914F6CDD1DL;
        ByteBuffer b = ByteBuffer.allocate(RamBlock.PAGE_SIZE);
        while (b.hasRemaining()) {
            b.putLong(r);
        }
        disk.write(Long.remainderUnsigned(r, blocks) * RamBlock.PAGE_SIZE, b.flip());
    }

    @Override
    public int stateSize() {
        return rng.length * 8;
    }

    @Override
    public void save(ByteBuffer out) {
        for (long r : rng) {
            out.putLong(r);
        }
    }

    @Override
    public void load(ByteBuffer in) {
        long[] r = new long[rng.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = in.getLong();
            if (r[i] == 0) {
                throw new IllegalArgumentException("stress state of vcpu " + i + ": generator state 0 (expected: non-zero)");
            }
        }
        System.arraycopy(r, 0, rng, 0, r.length);
    }
}
