package dev.converge.block.backup;

import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.block.mirror.BlockdevOnError;
import dev.converge.block.mirror.MirrorSyncMode;
import java.util.Objects;

/**
 * The resolved options of one backup job (blockdev-backup's arguments after defaults and the
 * argument checks; {@code incremental} is already {@code bitmap} with on-success, as QEMU
 * desugars it).
 *
 * @param sync          full, top, none or bitmap
 * @param bitmap        the user's bitmap on the source, or null
 * @param bitmapMode    what happens to {@code bitmap} at the end; null without a bitmap
 * @param compress      compressed writes to the target (a node with compressed writes: qcow2)
 * @param onSourceError policy for read errors of the job's own copies
 * @param onTargetError policy for write errors of the job's own copies
 * @param discardSource discard each source cluster once it is copied (QEMU 10.0's discard-source)
 * @param perf          x-perf
 */
public record BackupOptions(MirrorSyncMode sync, DirtyBitmap bitmap, BitmapSyncMode bitmapMode, boolean compress,
        BlockdevOnError onSourceError, BlockdevOnError onTargetError, boolean discardSource, BackupPerf perf) {
    public BackupOptions {
        Objects.requireNonNull(sync);
        Objects.requireNonNull(onSourceError);
        Objects.requireNonNull(onTargetError);
        Objects.requireNonNull(perf);
        if (sync == MirrorSyncMode.INCREMENTAL) {
            throw new IllegalArgumentException("incremental is bitmap with on-success");
        }
        if ((bitmap == null) != (bitmapMode == null)) {
            throw new IllegalArgumentException("a bitmap and its mode go together");
        }
        if (sync == MirrorSyncMode.BITMAP && bitmap == null) {
            throw new IllegalArgumentException("sync bitmap needs a bitmap");
        }
    }

    /** A backup of {@code sync} with every other option at QEMU's default. */
    public static BackupOptions of(MirrorSyncMode sync) {
        return new BackupOptions(sync, null, null, false, BlockdevOnError.REPORT, BlockdevOnError.REPORT, false,
                BackupPerf.defaults());
    }

    /** The same with a bitmap and its mode. */
    public BackupOptions withBitmap(DirtyBitmap b, BitmapSyncMode mode) {
        return new BackupOptions(sync, b, mode, compress, onSourceError, onTargetError, discardSource, perf);
    }
}
