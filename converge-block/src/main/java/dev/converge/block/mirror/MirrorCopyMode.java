package dev.converge.block.mirror;

import java.util.Locale;

/** How the mirror keeps up with new writes (QEMU's MirrorCopyMode). */
public enum MirrorCopyMode {
    /** New writes only dirty the bitmap; the job copies them later in the background. */
    BACKGROUND,
    /**
     * A guest write is also written to the target before it completes (QEMU's active mirror),
     * so the dirty set only shrinks and the job converges under any write rate.
     */
    WRITE_BLOCKING;

    /** The QMP spelling ("background", "write-blocking"). */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The mode for a QMP value, or null when the value is not one. */
    public static MirrorCopyMode fromWire(String s) {
        for (MirrorCopyMode m : values()) {
            if (m.wireName().equals(s)) {
                return m;
            }
        }
        return null;
    }
}
