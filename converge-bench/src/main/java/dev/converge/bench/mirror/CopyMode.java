package dev.converge.bench.mirror;

/** blockdev-mirror's {@code copy-mode} (QEMU's MirrorCopyMode). */
public enum CopyMode {
    /** Guest writes only mark the dirty bitmap; the job copies them later. */
    BACKGROUND("background"),
    /** Guest writes to the source also go to the target before they complete (active mirror). */
    WRITE_BLOCKING("write-blocking");

    private final String wireName;

    CopyMode(String wireName) {
        this.wireName = wireName;
    }

    /** The QMP value. */
    public String wireName() {
        return wireName;
    }
}
