package dev.converge.block.mirror;

import java.util.Objects;

/**
 * The resolved options of one mirror job (blockdev-mirror's arguments after defaults and checks).
 *
 * @param sync          what is copied at first
 * @param granularity   bytes per dirty-bitmap bit: a power of two in [512 B, 64 MiB]
 * @param bufSize       most bytes in flight at once (a multiple of the granularity)
 * @param onSourceError policy for read errors on the source
 * @param onTargetError policy for write errors on the target
 * @param copyMode      the initial copy mode (background may later change to write-blocking)
 * @param unmap         zero ranges of the source are written as zeroes with MAY_UNMAP on the target
 */
public record MirrorOptions(MirrorSyncMode sync, long granularity, long bufSize, BlockdevOnError onSourceError,
        BlockdevOnError onTargetError, MirrorCopyMode copyMode, boolean unmap) {
    /** QEMU's MAX_IN_FLIGHT: copy operations in flight at once, at most. */
    public static final int MAX_IN_FLIGHT = 16;
    /** QEMU's MAX_IO_BYTES: the largest single copy operation. */
    public static final long MAX_IO_BYTES = 1L << 20;
    /** QEMU's DEFAULT_MIRROR_BUF_SIZE (MAX_IN_FLIGHT × MAX_IO_BYTES). */
    public static final long DEFAULT_BUF_SIZE = MAX_IN_FLIGHT * MAX_IO_BYTES;
    /** The granularity used when none is given and the target has no cluster size (QEMU: 64 KiB). */
    public static final long DEFAULT_GRANULARITY = 64 * 1024;
    public static final long MIN_GRANULARITY = 512;
    public static final long MAX_GRANULARITY = 64L << 20;

    public MirrorOptions {
        Objects.requireNonNull(sync);
        Objects.requireNonNull(onSourceError);
        Objects.requireNonNull(onTargetError);
        Objects.requireNonNull(copyMode);
        if (granularity < MIN_GRANULARITY || granularity > MAX_GRANULARITY || Long.bitCount(granularity) != 1) {
            throw new IllegalArgumentException("granularity " + granularity);
        }
        if (bufSize < granularity || bufSize % granularity != 0) {
            throw new IllegalArgumentException("buf-size " + bufSize + " (granularity " + granularity + ")");
        }
    }

    /** Full sync, defaults everywhere (for tests and internal users). */
    public static MirrorOptions defaults() {
        return new MirrorOptions(MirrorSyncMode.FULL, DEFAULT_GRANULARITY, DEFAULT_BUF_SIZE, BlockdevOnError.REPORT,
                BlockdevOnError.REPORT, MirrorCopyMode.BACKGROUND, true);
    }

    /** The largest single copy operation: buf-size shared by MAX_IN_FLIGHT ops, 1 MiB at most, one granule at least. */
    public long maxOpBytes() {
        long b = Math.min(bufSize / MAX_IN_FLIGHT, MAX_IO_BYTES);
        b -= b % granularity;
        return Math.max(granularity, b);
    }
}
