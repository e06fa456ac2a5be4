package dev.converge.block.bitmap;

import java.util.Objects;

/**
 * A dirty bitmap of a block node: which byte ranges were written since it was created or last
 * reset, at a granularity (a power of two, at least 512 bytes). Set from the write path of its
 * node on any thread without a lock; read and reset by its user (a mirror, a backup, the user).
 * <p>
 * A bitmap with a name is the user's ({@code block-dirty-bitmap-add}); an anonymous one belongs
 * to a job. A {@linkplain #busy() busy} bitmap is in use by a job and refused to QMP commands
 * that change it. Disabled bitmaps do not record writes.
 */
public final class DirtyBitmap {
    /** QEMU's smallest granularity (BDRV_SECTOR_SIZE). */
    public static final long MIN_GRANULARITY = 512;
    /** QEMU's largest granularity. */
    public static final long MAX_GRANULARITY = 1L << 31;

    private final String name;
    private final long granularity;
    private final int shift;
    /** Size of the node in bytes when the bitmap was made. */
    private final long length;
    private final HBitmap bits;
    /** Whether writes are recorded. Volatile: read by every write, changed by its owner. */
    private volatile boolean enabled = true;
    /** Whether a job uses it (QMP refuses to touch it). Volatile: set on the main loop, read anywhere. */
    private volatile boolean busy;

    /**
     * @param name        the user-visible name, or null for an anonymous bitmap
     * @param granularity bytes per bit: a power of two in [{@value #MIN_GRANULARITY}, 2^31]
     * @param length      bytes covered (the node's size)
     */
    public DirtyBitmap(String name, long granularity, long length) {
        if (!isValidGranularity(granularity)) {
            throw new IllegalArgumentException("granularity " + granularity);
        }
        if (length < 0) {
            throw new IllegalArgumentException("length " + length);
        }
        this.name = name;
        this.granularity = granularity;
        this.shift = Long.numberOfTrailingZeros(granularity);
        this.length = length;
        this.bits = new HBitmap((length + granularity - 1) >>> shift);
    }

    /** Whether {@code g} is a granularity QEMU accepts. */
    public static boolean isValidGranularity(long g) {
        return g >= MIN_GRANULARITY && g <= MAX_GRANULARITY && Long.bitCount(g) == 1;
    }

    /** The name, or null when anonymous. */
    public String name() {
        return name;
    }

    public long granularity() {
        return granularity;
    }

    /** Bytes covered. */
    public long length() {
        return length;
    }

    public boolean enabled() {
        return enabled;
    }

    /** Starts or stops recording writes. */
    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    public boolean busy() {
        return busy;
    }

    public void setBusy(boolean busy) {
        this.busy = busy;
    }

    /** Marks bytes [offset, offset + bytes) dirty (clipped to the bitmap), whether enabled or not. */
    public void setDirty(long offset, long bytes) {
        long[] r = chunks(offset, bytes);
        if (r != null) {
            bits.set(r[0], r[1]);
        }
    }

    /** Marks the range dirty if the bitmap is enabled: the write path calls this. */
    public void recordWrite(long offset, long bytes) {
        if (enabled) {
            setDirty(offset, bytes);
        }
    }

    /**
     * Clears the chunks that lie wholly inside [offset, offset + bytes); a chunk only partly
     * covered stays dirty (as QEMU does, so that no dirty byte is forgotten). The last chunk
     * counts as wholly covered when the range reaches the end of the bitmap.
     */
    public void resetDirty(long offset, long bytes) {
        checkRange(offset, bytes);
        long end = offset + bytes;
        long first = (offset + granularity - 1) >>> shift;
        long lastExcl = end >= length ? bits.size() : end >>> shift;
        if (lastExcl > first) {
            bits.reset(first, lastExcl - first);
        }
    }

    /** Clears everything (block-dirty-bitmap-clear). */
    public void clear() {
        bits.clear();
    }

    /** Whether any byte of [offset, offset + bytes) is dirty. */
    public boolean isDirty(long offset, long bytes) {
        long[] r = chunks(offset, bytes);
        if (r == null) {
            return false;
        }
        long n = bits.nextSet(r[0]);
        return n >= 0 && n < r[0] + r[1];
    }

    /** Byte offset of the first dirty chunk at or after the chunk holding {@code offset}, or -1. */
    public long nextDirty(long offset) {
        if (offset < 0) {
            throw new IllegalArgumentException("offset " + offset);
        }
        if (offset >= length) {
            return -1;
        }
        long b = bits.nextSet(offset >>> shift);
        return b < 0 ? -1 : Math.max(offset, b << shift);
    }

    /** Byte offset of the first clean byte at or after {@code offset}, or -1 when all dirty to the end. */
    public long nextClean(long offset) {
        if (offset < 0) {
            throw new IllegalArgumentException("offset " + offset);
        }
        if (offset >= length) {
            return -1;
        }
        long b = bits.nextClear(offset >>> shift);
        return b < 0 ? -1 : Math.max(offset, b << shift);
    }

    /** Dirty bytes (whole chunks, the last one clipped to the length): QEMU's "count". */
    public long dirtyBytes() {
        long c = bits.count() << shift;
        long lastChunk = bits.size() - 1;
        if (lastChunk >= 0 && (length & (granularity - 1)) != 0 && bits.get(lastChunk)) {
            c -= granularity - (length & (granularity - 1));
        }
        return c;
    }

    /** Number of dirty chunks. */
    public long dirtyChunks() {
        return bits.count();
    }

    private long[] chunks(long offset, long bytes) {
        checkRange(offset, bytes);
        long end = Math.min(offset + bytes, length);
        if (end <= offset) {
            return null;
        }
        long first = offset >>> shift;
        long last = (end - 1) >>> shift;
        return new long[] {first, last - first + 1};
    }

    private static void checkRange(long offset, long bytes) {
        if (offset < 0 || bytes < 0 || offset > Long.MAX_VALUE - bytes) {
            throw new IllegalArgumentException("range offset " + offset + " bytes " + bytes);
        }
    }

    @Override
    public String toString() {
        return "DirtyBitmap[" + Objects.toString(name, "(anonymous)") + ", granularity " + granularity + ", dirty "
                + dirtyBytes() + "]";
    }
}
