package dev.converge.nbd.wire;

/**
 * One BLOCK_STATUS descriptor: a length and the context's status flags for it.
 *
 * @param length bytes covered, 1..2^32-1 on the wire
 * @param flags  context-specific flags ({@link NbdProtocol#STATE_HOLE}, {@link NbdProtocol#STATE_ZERO},
 *               {@link NbdProtocol#STATE_DIRTY})
 */
public record Extent(long length, int flags) {
    /** Largest length one descriptor can carry. */
    public static final long MAX_LENGTH = 0xffffffffL;

    public Extent {
        if (length <= 0 || length > MAX_LENGTH) {
            throw new IllegalArgumentException("extent length: " + length + " (expected: 1.." + MAX_LENGTH + ")");
        }
    }

    /** Allocated data. */
    public static Extent data(long length) {
        return new Extent(length, 0);
    }

    /** Allocated, reads as zeroes. */
    public static Extent zero(long length) {
        return new Extent(length, NbdProtocol.STATE_ZERO);
    }

    /** Unallocated, reads as zeroes. */
    public static Extent hole(long length) {
        return new Extent(length, NbdProtocol.STATE_HOLE | NbdProtocol.STATE_ZERO);
    }

    /** A dirty range of a dirty bitmap. */
    public static Extent dirty(long length) {
        return new Extent(length, NbdProtocol.STATE_DIRTY);
    }

    /** A clean range of a dirty bitmap. */
    public static Extent clean(long length) {
        return new Extent(length, 0);
    }

    /** Whether base:allocation says it reads as zeroes. */
    public boolean readsAsZero() {
        return (flags & NbdProtocol.STATE_ZERO) != 0;
    }

    /** The same flags over another length. */
    public Extent withLength(long newLength) {
        return new Extent(newLength, flags);
    }
}
