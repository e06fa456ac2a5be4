package dev.converge.block;

/** Flags of a write-type request, as QEMU's BdrvRequestFlags. */
public enum ReqFlag {
    /** Force unit access: the data is on stable storage when the request completes. */
    FUA,
    /** Write-zeroes may deallocate (punch a hole) instead of writing zeroes; ignored unless the node has discard=unmap. */
    MAY_UNMAP,
    /** Write-zeroes must fail with ENOTSUP rather than fall back to writing zero buffers. */
    NO_FALLBACK
}
