package dev.converge.migration.machine.kvm;

/** The triple-faulting test guest of {@link KvmResetTest}, for the QMP tests of another package. */
public final class KvmResetTestGuest {
    /** The image bytes as hex. */
    public static final String HEX = KvmResetTest.TRIPLE_FAULT_ONCE;

    private KvmResetTestGuest() {
    }
}
