package dev.converge.migration.machine;

import java.nio.ByteBuffer;

/** A workload that writes nothing: the vCPUs park. */
public final class IdleWorkload implements Workload {
    @Override
    public WorkloadKind kind() {
        return WorkloadKind.IDLE;
    }

    @Override
    public int step(int vcpu) {
        return -1;
    }

    @Override
    public int stateSize() {
        return 0;
    }

    @Override
    public void save(ByteBuffer out) {
    }

    @Override
    public void load(ByteBuffer in) {
    }
}
