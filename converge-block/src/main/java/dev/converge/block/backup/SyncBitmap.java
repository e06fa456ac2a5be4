package dev.converge.block.backup;

import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.bitmap.DirtyBitmap;
import java.util.Objects;

/**
 * The user's bitmap of a backup with a bitmap, frozen for the job's life (QEMU's
 * bdrv_dirty_bitmap_create_successor, _abdicate, _reclaim): the bitmap stops recording and is
 * busy (QMP refuses to touch it), an anonymous successor on the same node records the writes
 * made meanwhile. At the end exactly one of:
 * <ul>
 * <li>{@link #abdicate}: the bitmap's bits become the successor's (only what was written since
 *     the backup began: the next incremental starts there);</li>
 * <li>{@link #reclaim}: the successor's bits are merged into the bitmap (nothing is forgotten).</li>
 * </ul>
 * The bitmap records again before the successor is read out, so a write made during the hand
 * back is in one of them. Main loop.
 */
final class SyncBitmap {
    private final BlockNode node;
    private final DirtyBitmap bitmap;
    private final DirtyBitmap successor;
    private final boolean wasEnabled;
    /** Whether the end was handled. Main loop only. */
    private boolean ended;

    private SyncBitmap(BlockNode node, DirtyBitmap bitmap, DirtyBitmap successor, boolean wasEnabled) {
        this.node = node;
        this.bitmap = bitmap;
        this.successor = successor;
        this.wasEnabled = wasEnabled;
    }

    /**
     * Freezes {@code bitmap} of {@code node}: a successor records from now on (it is added before
     * the bitmap stops, so no write falls between them).
     *
     * @throws BackupRefusedException QEMU's text when the bitmap is in use already
     */
    static SyncBitmap freeze(BlockNode node, DirtyBitmap bitmap) {
        Objects.requireNonNull(bitmap);
        if (bitmap.busy()) {
            throw new BackupRefusedException("Cannot create a successor for a bitmap that is in-use by an operation");
        }
        DirtyBitmap successor;
        try {
            successor = node.addDirtyBitmap(null, bitmap.granularity());
        } catch (BlockIOException e) {
            throw new BackupRefusedException("Unable to get length for '" + node.nodeName() + "': " + e.getMessage(), e);
        }
        boolean enabled = bitmap.enabled();
        successor.setEnabled(enabled);
        successor.setBusy(true);
        bitmap.setBusy(true);
        bitmap.setEnabled(false);
        return new SyncBitmap(node, bitmap, successor, enabled);
    }

    DirtyBitmap bitmap() {
        return bitmap;
    }

    /** The bitmap takes the successor's bits: only the writes since the freeze. */
    void abdicate() {
        end(true);
    }

    /** The successor's bits are merged into the bitmap: its old bits and the writes since the freeze. */
    void reclaim() {
        end(false);
    }

    private void end(boolean replace) {
        if (ended) {
            return;
        }
        ended = true;
        if (replace) {
            bitmap.clear();
        }
        bitmap.setEnabled(wasEnabled);
        merge(successor, bitmap);
        node.removeDirtyBitmap(successor);
        bitmap.setBusy(false);
    }

    /** Marks in {@code into} every byte range dirty in {@code from} (granularities may differ). */
    static void merge(DirtyBitmap from, DirtyBitmap into) {
        long pos = 0;
        long len = from.length();
        while (pos < len) {
            long d = from.nextDirty(pos);
            if (d < 0) {
                return;
            }
            long c = from.nextClean(d);
            long end = c < 0 ? len : c;
            into.setDirty(d, end - d);
            pos = end;
        }
    }
}
