package dev.converge.block.mirror;

import java.util.Locale;

/**
 * What the mirror copies at first (QEMU's MirrorSyncMode). {@link #TOP} copies what the source's
 * top layer holds (a qcow2 node's allocated clusters); for a node without a backing chain that is
 * the whole disk, as {@link #FULL}.
 */
public enum MirrorSyncMode {
    /** Copy the whole disk. */
    FULL,
    /** Copy the top layer of the backing chain (the extents the source reports allocated). */
    TOP,
    /** Copy only what is written after the job started. */
    NONE,
    /** Declared by QEMU's schema; refused by blockdev-mirror ("Sync mode 'incremental' not supported"). */
    INCREMENTAL,
    /** Declared by QEMU's schema; refused by blockdev-mirror. */
    BITMAP;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static MirrorSyncMode fromWire(String s) {
        for (MirrorSyncMode m : values()) {
            if (m.wireName().equals(s)) {
                return m;
            }
        }
        return null;
    }

    /**
     * Whether the job copies data that exists when it starts: FULL (every byte starts dirty) and
     * TOP (what the top layer holds starts dirty).
     */
    public boolean copiesExistingData() {
        return this == FULL || this == TOP;
    }
}
