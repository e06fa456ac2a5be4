package dev.converge.migration.job;

import java.util.EnumSet;
import java.util.Set;

/**
 * QEMU 10.0's MigrationCapability, every member in QEMU's order, plus converge's own
 * {@code x-converge-verify}. This enum is the one table of what converge implements: a
 * capability whose {@link #implemented()} is false is listed by query-migrate-capabilities (off)
 * and may be turned off, but turning it on is refused, naming it ({@link #notImplemented()}).
 *
 * <p>Owners flip their row when the feature lands: {@code multifd} (helper multifd),
 * {@code postcopy-ram} and {@code postcopy-preempt} (helper postcopy).
 */
public enum MigrationCapability {
    XBZRLE("xbzrle", false, "XOR-based zero-run-length encoding of re-sent pages"),
    RDMA_PIN_ALL("rdma-pin-all", false, "RDMA transport"),
    /**
     * Auto-converge: when the guest dirties memory faster than the stream carries it, hold
     * the vCPUs back, more and more (the cpu-throttle-* parameters), until it converges.
     */
    AUTO_CONVERGE("auto-converge", true, ""),
    ZERO_BLOCKS("zero-blocks", false, "block migration (removed from QEMU in 9.1; deprecated in 10.0)"),
    /** Send MIGRATION events (both sides) and MIGRATION_PASS events (source). */
    EVENTS("events", true, ""),
    /**
     * Postcopy (both sides): migrate-start-postcopy (or job-change start-postcopy) switches a
     * running migration to postcopy: the source stops, the destination runs at once and fetches
     * the pages still missing on demand. Software machines only (a KVM guest would need
     * userfaultfd).
     */
    POSTCOPY_RAM("postcopy-ram", true, ""),
    X_COLO("x-colo", false, "COLO fault tolerance"),
    RELEASE_RAM("release-ram", false, "postcopy"),
    /**
     * QEMU's return path. converge's stream always carries one (the destination's ack is what
     * makes the source let go of the guest), so this is accepted and reported for compatibility.
     */
    RETURN_PATH("return-path", true, ""),
    /**
     * Stop in pre-switchover until migrate-continue (or job-finalize): the job waits in PENDING
     * with the source stopped and the destination holding all state without running it.
     */
    PAUSE_BEFORE_SWITCHOVER("pause-before-switchover", true, ""),
    /**
     * Multifd: RAM pages travel in batches over multifd-channels extra connections next to the
     * main stream (compressed with multifd-compression, zero pages found per
     * zero-page-detection), with a sync point of every channel at each pass. Only the source's
     * setting counts: its stream declares the channels, and the destination accepts them (QEMU
     * needs it on both sides; turning it on at the destination too is harmless).
     */
    MULTIFD("multifd", true, ""),
    DIRTY_BITMAPS("dirty-bitmaps", false, "dirty bitmap migration in the stream"),
    /**
     * Postcopy blocktime (destination): query-migrate shows how long the vCPUs waited for pages
     * from the source: postcopy-blocktime, postcopy-vcpu-blocktime, postcopy-latency(-dist),
     * postcopy-vcpu-latency, postcopy-non-vcpu-latency.
     */
    POSTCOPY_BLOCKTIME("postcopy-blocktime", true, ""),
    LATE_BLOCK_ACTIVATE("late-block-activate", false, "late block activation on the destination"),
    X_IGNORE_SHARED("x-ignore-shared", false, "shared-memory RAM"),
    VALIDATE_UUID("validate-uuid", false, "the VM UUID check"),
    BACKGROUND_SNAPSHOT("background-snapshot", false, "background snapshots"),
    ZERO_COPY_SEND("zero-copy-send", false, "zero-copy multifd sends"),
    /**
     * Postcopy preempt (both sides, with postcopy-ram): a second connection, opened at the start,
     * carries the pages the destination's vCPUs wait for, so that they never queue behind the
     * background push on the main stream; every recovery opens a new one.
     */
    POSTCOPY_PREEMPT("postcopy-preempt", true, ""),
    SWITCHOVER_ACK("switchover-ack", false, "device switchover acks (no device uses them)"),
    /**
     * Dirty limit (QEMU 8.1): when the guest dirties memory faster than the stream carries it
     * (the auto-converge trigger), cap each vCPU's dirty rate at vcpu-dirty-limit MB/s at once.
     * Excludes auto-converge. QEMU needs KVM's dirty ring for it; converge's software dirty
     * log paces the vCPUs directly.
     */
    DIRTY_LIMIT("dirty-limit", true, ""),
    /**
     * file: migrations only: every page at a fixed offset of the file (zero pages are holes, so
     * the file is sparse), written and read back by several threads at once.
     */
    MAPPED_RAM("mapped-ram", true, ""),
    /**
     * converge's own (on by default): a verified stream. Every record carries a CRC32C; at the
     * switchover the destination compares the digest of its table of page CRCs (what it
     * received) with the source's (what it sent) before it acknowledges, and a mismatch fails
     * the migration and the source runs on; after the hand-over the source checks its frozen RAM
     * against what it sent (query-migrate's x-converge-ram-check, X_CONVERGE_RAM_CHECK). Only the
     * source's setting counts (the stream header tells the destination).
     */
    X_CONVERGE_VERIFY("x-converge-verify", true, "");

    /** The capabilities that are on until migrate-set-capabilities turns them off. */
    public static Set<MigrationCapability> defaults() {
        return EnumSet.of(X_CONVERGE_VERIFY);
    }

    private final String wireName;
    private final boolean implemented;
    /** For an unimplemented capability: the feature converge lacks, for the refusal's text. */
    private final String missing;

    MigrationCapability(String wireName, boolean implemented, String missing) {
        this.wireName = wireName;
        this.implemented = implemented;
        this.missing = missing;
    }

    public String wireName() {
        return wireName;
    }

    /** Whether converge acts on this capability; an unimplemented one cannot be turned on. */
    public boolean implemented() {
        return implemented;
    }

    /** The refusal of turning this unimplemented capability on. */
    public String notImplemented() {
        return "Migration capability '" + wireName + "' is not supported by converge (" + missing + " is not implemented)";
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
