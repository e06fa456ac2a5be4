package dev.converge.block.driver;

import java.util.Locale;

/** QEMU's PreallocMode: how much of a new image's space blockdev-create reserves. */
public enum PreallocMode {
    /** Nothing: the image stays sparse. */
    OFF,
    /** The format's metadata for the whole disk (qcow2: L2 tables and clusters); data not written. */
    METADATA,
    /** The space is reserved with fallocate. */
    FALLOC,
    /** The space is written (zeroes). */
    FULL;

    /** The QMP spelling. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The mode for a QMP value, or null when the value is not one. */
    public static PreallocMode fromWire(String s) {
        for (PreallocMode m : values()) {
            if (m.wireName().equals(s)) {
                return m;
            }
        }
        return null;
    }
}
