package dev.converge.migration.machine;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * converge's software model: {@link Vcpus} run the spec's {@link Workload}, whose writes mark
 * the dirty log themselves; no state of its own beyond the workload's.
 */
public final class SoftwareAccelerator implements Accelerator {
    /** Allocates RAM from the Java heap's off-heap arena and runs the workload on {@link Vcpus}. */
    public static final Factory FACTORY = new Factory() {
        @Override
        public GuestRam allocateRam(List<GuestRam.BlockInfo> layout) {
            return new GuestRam(layout);
        }

        @Override
        public Accelerator create(String machineName, MachineSpec spec, GuestRam ram, Workload workload, RunState initial) {
            return new SoftwareAccelerator(new Vcpus(machineName, spec.vcpus(), workload, spec.dirtyRate().orElse(0)));
        }
    };

    private final Vcpus vcpus;

    private SoftwareAccelerator(Vcpus vcpus) {
        this.vcpus = vcpus;
    }

    @Override
    public Kind kind() {
        return Kind.SOFTWARE;
    }

    @Override
    public Vcpus vcpus() {
        return vcpus;
    }

    @Override
    public void collectDirtyLog() {
        // every guest write marked its page already
    }

    @Override
    public byte[] saveState() {
        return new byte[0];
    }

    @Override
    public void loadState(ByteBuffer in) {
        if (in.hasRemaining()) {
            throw new IllegalArgumentException("software accelerator state: " + in.remaining() + " bytes (expected: 0)");
        }
    }

    @Override
    public void close() {
        vcpus.close();
    }
}
