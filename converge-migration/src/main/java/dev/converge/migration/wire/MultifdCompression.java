package dev.converge.migration.wire;

/**
 * How a multifd channel's page data is compressed (QEMU's MultiFDCompression, the parameter
 * {@code multifd-compression}); the wire code is a u8 of MULTIFD_SETUP and of every PAGES record.
 * QEMU's optional qpl, uadk and qatzip need hardware libraries and are absent, as in a QEMU built
 * without them (their members are conditional in QEMU's schema too).
 */
public enum MultifdCompression {
    /** The pages as they are. */
    NONE("none", 0),
    /** DEFLATE (zlib format), one stream per PAGES record, level {@code multifd-zlib-level}. */
    ZLIB("zlib", 1),
    /** One zstd frame per PAGES record, level {@code multifd-zstd-level}. */
    ZSTD("zstd", 2);

    private final String wireName;
    private final int code;

    MultifdCompression(String wireName, int code) {
        this.wireName = wireName;
        this.code = code;
    }

    /** QEMU's name ({@code multifd-compression}). */
    public String wireName() {
        return wireName;
    }

    /** The u8 on the wire. */
    public int code() {
        return code;
    }

    /** The compression called {@code name} (QEMU's name). */
    public static MultifdCompression fromWireName(String name) {
        for (MultifdCompression c : values()) {
            if (c.wireName.equals(name)) {
                return c;
            }
        }
        throw new IllegalArgumentException("multifd-compression: '" + name + "' (expected: none, zlib or zstd)");
    }

    /**
     * The compression with wire {@code code}.
     *
     * @throws WireFormatException for an unknown code
     */
    public static MultifdCompression fromCode(int code) throws WireFormatException {
        for (MultifdCompression c : values()) {
            if (c.code == code) {
                return c;
            }
        }
        throw new WireFormatException("multifd compression: " + code + " (expected: 0 none, 1 zlib or 2 zstd)");
    }
}
