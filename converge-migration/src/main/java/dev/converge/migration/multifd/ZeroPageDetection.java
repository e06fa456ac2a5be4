package dev.converge.migration.multifd;

/**
 * Where zero pages are found (QEMU's ZeroPageDetection, the parameter
 * {@code zero-page-detection}); a zero page travels as a marker without data and counts in
 * query-migrate's {@code duplicate}.
 */
public enum ZeroPageDetection {
    /** No detection: zero pages are sent with their data. */
    NONE("none"),
    /** In the migration thread; with multifd the markers go on the main stream. */
    LEGACY("legacy"),
    /**
     * In the multifd channels' threads when multifd is on (the markers go in the channels'
     * PAGES records), else in the migration thread as {@link #LEGACY}. QEMU 10's default.
     */
    MULTIFD("multifd");

    private final String wireName;

    ZeroPageDetection(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }

    /** The method called {@code name}. */
    public static ZeroPageDetection fromWireName(String name) {
        for (ZeroPageDetection z : values()) {
            if (z.wireName.equals(name)) {
                return z;
            }
        }
        throw new IllegalArgumentException("zero-page-detection: '" + name + "' (expected: none, legacy or multifd)");
    }
}
