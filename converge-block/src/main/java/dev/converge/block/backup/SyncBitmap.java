package dev.converge.block.backup;

import dev.converge.block.BlockNode;
import dev.converge.block.bitmap.BitmapException;
import dev.converge.block.bitmap.DirtyBitmap;
import java.util.Objects;

/**
 * The user's bitmap of a backup with a bitmap, frozen for the job's life through the node's
 * successor protocol ({@link dev.converge.block.bitmap.NodeBitmaps#createSuccessor}): the bitmap
 * stops recording and is busy (QMP refuses to touch it), an anonymous successor records the
 * writes made meanwhile. At the end exactly one of {@link #abdicate} (the bitmap's bits become
 * the successor's: only what was written since the backup began) or {@link #reclaim} (the
 * successor's bits are merged into it: nothing is forgotten). Main loop.
 */
final class SyncBitmap {
    private final BlockNode node;
    private final DirtyBitmap bitmap;
    /** Whether the end was handled. Main loop only. */
    private boolean ended;

    private SyncBitmap(BlockNode node, DirtyBitmap bitmap) {
        this.node = node;
        this.bitmap = bitmap;
    }

    /**
     * Freezes {@code bitmap} of {@code node}.
     *
     * @throws BackupRefusedException QEMU's text when the bitmap is in use already
     */
    static SyncBitmap freeze(BlockNode node, DirtyBitmap bitmap) {
        Objects.requireNonNull(bitmap);
        try {
            node.bitmaps().createSuccessor(bitmap);
        } catch (BitmapException e) {
            throw new BackupRefusedException(e.getMessage(), e);
        }
        return new SyncBitmap(node, bitmap);
    }

    DirtyBitmap bitmap() {
        return bitmap;
    }

    /** The bitmap takes the successor's bits: only the writes since the freeze. */
    void abdicate() {
        if (!ended) {
            ended = true;
            node.bitmaps().abdicate(bitmap);
        }
    }

    /** The successor's bits are merged into the bitmap: its old bits and the writes since the freeze. */
    void reclaim() {
        if (!ended) {
            ended = true;
            node.bitmaps().reclaim(bitmap);
        }
    }

    /** Marks in the bitmap the clusters a failed backup did not copy (bitmap-mode always). */
    void addNotCopied(DirtyBitmap toCopy) {
        merge(toCopy, bitmap);
    }

    /** {@code into} |= {@code from}; both cover the source's size. */
    static void merge(DirtyBitmap from, DirtyBitmap into) {
        try {
            into.merge(from);
        } catch (BitmapException e) {
            throw new IllegalStateException("the copy state covers the source's size", e);
        }
    }
}
