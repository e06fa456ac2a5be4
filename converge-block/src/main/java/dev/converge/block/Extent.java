package dev.converge.block;

/**
 * One run of bytes with the same allocation status (QEMU's bdrv_co_block_status result).
 *
 * @param offset byte offset in the node
 * @param length bytes in the run, positive
 * @param flags  a combination of {@link #DATA}, {@link #ZERO}, {@link #ALLOCATED}
 */
public record Extent(long offset, long length, int flags) {
    /** The range holds data as stored (reads may return anything). */
    public static final int DATA = 0x01;
    /** The range reads as zeroes. */
    public static final int ZERO = 0x02;
    /** The range is provided by this node, not by its backing chain (a qcow2 node leaves it off for unallocated clusters). */
    public static final int ALLOCATED = 0x10;

    public Extent {
        if (offset < 0 || length <= 0) {
            throw new IllegalArgumentException("extent offset " + offset + " length " + length);
        }
    }

    public boolean isData() {
        return (flags & DATA) != 0;
    }

    public boolean isZero() {
        return (flags & ZERO) != 0;
    }

    public boolean isAllocated() {
        return (flags & ALLOCATED) != 0;
    }

    public long end() {
        return offset + length;
    }
}
