package dev.converge.block.driver.qcow2;

/**
 * The bits of L1 and L2 table entries (qcow2.txt, "Cluster mapping"), as pure functions.
 * <p>
 * A standard L2 entry: bit 63 COPIED (refcount is exactly 1, may be written in place), bit 62
 * COMPRESSED, bits 9-55 the host cluster offset, bit 0 "reads as zeroes" (v3). With extended L2
 * entries a second 64-bit word follows: bits 0-31 say which of the 32 subclusters are allocated,
 * bits 32-63 which read as zeroes; bit 0 of the first word is then reserved.
 * A compressed entry holds, below bit x = 62 - (cluster_bits - 8), the host byte offset of the
 * compressed data, and above it the number of additional 512-byte sectors it spans.
 */
final class L2Entry {
    static final long COPIED = 1L << 63;
    static final long COMPRESSED = 1L << 62;
    static final long ZERO = 1L;
    static final long OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;
    /** All 32 subclusters allocated (extended L2 bitmap). */
    static final long ALL_ALLOCATED = 0xffff_ffffL;
    /** All 32 subclusters read as zeroes (extended L2 bitmap). */
    static final long ALL_ZERO = 0xffff_ffff_0000_0000L;
    static final int SUBCLUSTERS = 32;

    /** What a (sub)cluster of the guest reads from. */
    enum Kind {
        /** Not in this image: the backing node, or zeroes without one. */
        UNALLOCATED,
        /** Reads as zeroes (v3 zero flag or extended L2 zero bit). */
        ZERO,
        /** Data in a host cluster. */
        NORMAL,
        /** Deflate-compressed data. */
        COMPRESSED
    }

    private L2Entry() {
    }

    static boolean compressed(long e) {
        return (e & COMPRESSED) != 0;
    }

    static long hostOffset(long e) {
        return e & OFFSET_MASK;
    }

    /** The kind of subcluster {@code sc} (0 for standard entries) of an entry. */
    static Kind kind(long e, long bitmap, boolean extended, int sc) {
        if (compressed(e)) {
            return Kind.COMPRESSED;
        }
        if (extended) {
            boolean alloc = ((bitmap >>> sc) & 1) != 0;
            boolean zero = ((bitmap >>> (32 + sc)) & 1) != 0;
            return zero ? Kind.ZERO : alloc ? Kind.NORMAL : Kind.UNALLOCATED;
        }
        if ((e & ZERO) != 0) {
            return Kind.ZERO;
        }
        return hostOffset(e) != 0 ? Kind.NORMAL : Kind.UNALLOCATED;
    }

    /** Bit position x that splits a compressed descriptor's offset from its sector count. */
    static int compressedShift(int clusterBits) {
        return 62 - (clusterBits - 8);
    }

    static long compressedOffset(long e, int clusterBits) {
        return e & ((1L << compressedShift(clusterBits)) - 1);
    }

    /** Bytes from the compressed offset to the end of its last sector. */
    static long compressedLength(long e, int clusterBits) {
        int x = compressedShift(clusterBits);
        long sectors = ((e & ~COMPRESSED & ~COPIED) >>> x) + 1;
        long off = compressedOffset(e, clusterBits);
        return sectors * 512 - (off & 511);
    }

    /** A compressed descriptor for {@code length} bytes at host {@code offset}. */
    static long compressedEntry(long offset, long length, int clusterBits) {
        long sectors = ((offset & 511) + length + 511) / 512;
        return COMPRESSED | ((sectors - 1) << compressedShift(clusterBits)) | offset;
    }
}
