package dev.converge.block.backup;

import java.util.Locale;

/**
 * What a backup with a bitmap does to that bitmap at its end (QEMU's BitmapSyncMode). While the
 * job runs the bitmap is frozen and a successor records the writes (see {@link SyncBitmap}).
 */
public enum BitmapSyncMode {
    /** On success the bitmap holds only the writes made since the backup began; on failure it is restored. */
    ON_SUCCESS,
    /** The bitmap is never cleared: afterwards it holds its old bits plus the writes made meanwhile. */
    NEVER,
    /** As on-success, also on failure; a failed backup leaves in it the clusters it did not copy. */
    ALWAYS;

    /** The QMP spelling. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The mode for a QMP value, or null when the value is not one. */
    public static BitmapSyncMode fromWire(String s) {
        for (BitmapSyncMode m : values()) {
            if (m.wireName().equals(s)) {
                return m;
            }
        }
        return null;
    }
}
