package dev.converge.migration.job;

/** The migration capabilities converge knows (a subset of QEMU's MigrationCapability), all off by default. */
public enum MigrationCapability {
    /**
     * Auto-converge: when the guest dirties memory faster than the stream carries it, hold
     * the vCPUs back, more and more (the cpu-throttle-* parameters), until it converges.
     */
    AUTO_CONVERGE("auto-converge"),
    /**
     * Dirty limit (QEMU 8.1): when the guest dirties memory faster than the stream carries it
     * (the auto-converge trigger), cap each vCPU's dirty rate at vcpu-dirty-limit MB/s at once.
     * Excludes auto-converge. QEMU needs KVM's dirty ring for it; converge's software dirty
     * log paces the vCPUs directly.
     */
    DIRTY_LIMIT("dirty-limit"),
    /** Send MIGRATION events (both sides) and MIGRATION_PASS events (source). */
    EVENTS("events"),
    /**
     * Stop in pre-switchover until migrate-continue (or job-finalize): the job waits in PENDING
     * with the source stopped and the destination holding all state without running it.
     */
    PAUSE_BEFORE_SWITCHOVER("pause-before-switchover"),
    /**
     * QEMU's return path. converge's stream always carries one (the destination's ack is what
     * makes the source let go of the guest), so this is accepted and reported for compatibility.
     */
    RETURN_PATH("return-path");

    private final String wireName;

    MigrationCapability(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }

    /** The capability called {@code name} (the schema has validated it already). */
    public static MigrationCapability fromWire(String name) {
        for (MigrationCapability c : values()) {
            if (c.wireName.equals(name)) {
                return c;
            }
        }
        throw new IllegalArgumentException("unknown capability '" + name + "'");
    }
}
