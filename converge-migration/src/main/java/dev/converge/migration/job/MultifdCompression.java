package dev.converge.migration.job;

/**
 * QEMU's MultiFDCompression as converge builds it: none, zlib (the JDK's) and zstd. QEMU's
 * optional qpl, uadk and qatzip need hardware libraries and are absent, as in a QEMU built
 * without them (their members are conditional in QEMU's schema too).
 */
public enum MultifdCompression {
    NONE("none"),
    ZLIB("zlib"),
    ZSTD("zstd");

    private final String wireName;

    MultifdCompression(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }
}
