package dev.converge.migration.job;

/**
 * The migration capabilities converge knows: a subset of QEMU's MigrationCapability, off by
 * default, and converge's own {@code x-converge-verify}, on by default.
 */
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
    /**
     * Postcopy (both sides): migrate-start-postcopy (or job-change start-postcopy) switches a
     * running migration to postcopy: the source stops, the destination runs at once and fetches
     * the pages still missing on demand. Software machines only (a KVM guest would need
     * userfaultfd).
     */
    POSTCOPY_RAM("postcopy-ram"),
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
    RETURN_PATH("return-path"),
    /**
     * converge's own (on by default): a verified stream. Every record carries a CRC32C, and at
     * the switchover the destination compares its SHA-256 of the received RAM with the source's
     * before it acknowledges; a mismatch fails the migration and the source runs on. Only the
     * source's setting counts (the stream header tells the destination).
     */
    X_CONVERGE_VERIFY("x-converge-verify");

    /** The capabilities that are on until migrate-set-capabilities turns them off. */
    public static java.util.Set<MigrationCapability> defaults() {
        return java.util.EnumSet.of(X_CONVERGE_VERIFY);
    }

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
