package dev.converge.migration.job;

/**
 * QEMU's ZeroPageDetection (parameter {@code zero-page-detection}, QEMU 9.0): whether and where
 * zero pages are found and sent as markers instead of their 4 KiB.
 */
public enum ZeroPageDetection {
    /** Every page travels with its data. */
    NONE("none"),
    /** Zero pages are found by the main migration thread. */
    LEGACY("legacy"),
    /** Zero pages are found by the multifd sender threads (the main thread without multifd). QEMU's default. */
    MULTIFD("multifd");

    private final String wireName;

    ZeroPageDetection(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }
}
