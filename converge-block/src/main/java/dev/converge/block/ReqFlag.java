package dev.converge.block;

/** Flags of a write-type request, as QEMU's BdrvRequestFlags. */
public enum ReqFlag {
    /** Force unit access: the data is on stable storage when the request completes. */
    FUA,
    /** Write-zeroes may deallocate (punch a hole) instead of writing zeroes; ignored unless the node has discard=unmap. */
    MAY_UNMAP,
    /** Write-zeroes must fail with ENOTSUP rather than fall back to writing zero buffers. */
    NO_FALLBACK,
    /**
     * Store the data compressed (QEMU's BDRV_REQ_WRITE_COMPRESSED, set by jobs with
     * {@code compress}): only nodes whose {@link BlockNode#supportsCompressedWrites} is true take it,
     * with their own alignment rules; others fail the write with ENOTSUP.
     */
    WRITE_COMPRESSED;

    /** The flags of a write-zeroes passed on to a child (a filter's, a format's file). */
    public static java.util.Set<ReqFlag> writeZeroes(boolean mayUnmap, boolean noFallback) {
        java.util.EnumSet<ReqFlag> flags = java.util.EnumSet.noneOf(ReqFlag.class);
        if (mayUnmap) {
            flags.add(MAY_UNMAP);
        }
        if (noFallback) {
            flags.add(NO_FALLBACK);
        }
        return flags;
    }
}
