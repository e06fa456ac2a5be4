package dev.converge.block.bitmap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A hierarchical bitmap of a fixed number of bits (QEMU's hbitmap, built for lock-free use).
 * <p>
 * Level 0 holds the bits. Each level above holds one bit per 64-bit word of the level below:
 * a set bit says "that word may be non-zero", a clear bit says "that word is zero", so
 * {@link #nextSet} skips clean regions 64 times faster per level. The top level is one word.
 * <p>
 * Concurrency: every word is updated with atomic read-modify-write (VarHandle), no lock.
 * {@link #set} changes level 0 first, then makes sure every ancestor bit is set. {@link #reset}
 * clears level 0, and when a word became zero it clears the parent bit and then re-reads the word,
 * setting the parent bit again if a concurrent {@code set} got in meanwhile. Hence, when no
 * operation is in progress, every non-zero word has all its ancestor bits set; {@link #nextSet}
 * never misses a bit whose {@code set} returned unless a {@code reset} runs concurrently.
 * {@link #count()} is always exact (it is updated from the bits each atomic operation changed).
 */
public final class HBitmap {
    private static final VarHandle WORD = MethodHandles.arrayElementVarHandle(long[].class);

    private final long size;
    /** levels[0] holds the bits; levels[i+1] summarises levels[i]; the last has one word. */
    private final long[][] levels;
    /** Number of set bits at level 0. */
    private final AtomicLong count = new AtomicLong();

    /** A bitmap of {@code size} bits, all clear. */
    public HBitmap(long size) {
        if (size < 0) {
            throw new IllegalArgumentException("size " + size);
        }
        this.size = size;
        int n = 1;
        long words = Math.max(1, (size + 63) >>> 6);
        long w = words;
        while (w > 1) {
            w = (w + 63) >>> 6;
            n++;
        }
        levels = new long[n][];
        w = words;
        for (int i = 0; i < n; i++) {
            if (w > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("bitmap too large: " + size + " bits");
            }
            levels[i] = new long[(int) w];
            w = (w + 63) >>> 6;
        }
    }

    /** Number of bits. */
    public long size() {
        return size;
    }

    /** Number of set bits. */
    public long count() {
        return count.get();
    }

    public boolean get(long bit) {
        checkIndex(bit);
        return (load(levels[0], (int) (bit >>> 6)) & (1L << bit)) != 0;
    }

    /** Sets bits [start, start + n). */
    public void set(long start, long n) {
        checkRange(start, n);
        if (n == 0) {
            return;
        }
        long last = start + n - 1;
        long[] l0 = levels[0];
        for (long w = start >>> 6; w <= last >>> 6; w++) {
            long mask = wordMask(w, start, last);
            long old = (long) WORD.getAndBitwiseOr(l0, (int) w, mask);
            long added = mask & ~old;
            if (added != 0) {
                count.addAndGet(Long.bitCount(added));
            }
            ensureAncestors(1, w);
        }
    }

    /** Clears bits [start, start + n). */
    public void reset(long start, long n) {
        checkRange(start, n);
        if (n == 0) {
            return;
        }
        long last = start + n - 1;
        long[] l0 = levels[0];
        for (long w = start >>> 6; w <= last >>> 6; w++) {
            long mask = wordMask(w, start, last);
            long old = (long) WORD.getAndBitwiseAnd(l0, (int) w, ~mask);
            long removed = mask & old;
            if (removed != 0) {
                count.addAndGet(-Long.bitCount(removed));
            }
            if ((old & ~mask) == 0) {
                clearParent(0, w);
            }
        }
    }

    /** Clears every bit. Not atomic as a whole with respect to concurrent {@link #set}s. */
    public void clear() {
        reset(0, size);
    }

    /** The first set bit at or after {@code from}, or -1. */
    public long nextSet(long from) {
        if (from < 0) {
            throw new IllegalArgumentException("from " + from);
        }
        if (from >= size) {
            return -1;
        }
        long r = nextSet(0, from);
        return r < size ? r : -1;
    }

    /** The first clear bit at or after {@code from}, or -1. */
    public long nextClear(long from) {
        if (from < 0) {
            throw new IllegalArgumentException("from " + from);
        }
        long[] l0 = levels[0];
        for (long w = from >>> 6, b = from; b < size; w++, b = w << 6) {
            long inv = ~load(l0, (int) w) & (-1L << b);
            if (inv != 0) {
                long r = (w << 6) + Long.numberOfTrailingZeros(inv);
                return r < size ? r : -1;
            }
        }
        return -1;
    }

    private long nextSet(int level, long from) {
        long[] words = levels[level];
        long w = from >>> 6;
        if (w >= words.length) {
            return -1;
        }
        long bits = load(words, (int) w) & (-1L << from);
        for (;;) {
            if (bits != 0) {
                return (w << 6) + Long.numberOfTrailingZeros(bits);
            }
            long next;
            if (level + 1 < levels.length) {
                next = nextSet(level + 1, w + 1); // summary: next word that may be non-zero
            } else {
                next = w + 1 < words.length ? w + 1 : -1;
            }
            if (next < 0 || next >= words.length) {
                return -1;
            }
            w = next;
            bits = load(words, (int) w);
        }
    }

    /** Makes sure bit {@code index} of {@code level} and all bits above it are set. */
    private void ensureAncestors(int level, long index) {
        for (int l = level; l < levels.length; l++) {
            long w = index >>> 6;
            long bit = 1L << index;
            if ((load(levels[l], (int) w) & bit) == 0) {
                WORD.getAndBitwiseOr(levels[l], (int) w, bit);
            }
            index = w;
        }
    }

    /** Word {@code index} of {@code level} was seen zero: clear its summary bit unless it filled again. */
    private void clearParent(int level, long index) {
        if (level + 1 >= levels.length) {
            return;
        }
        long[] parent = levels[level + 1];
        long pw = index >>> 6;
        long bit = 1L << index;
        long old = (long) WORD.getAndBitwiseAnd(parent, (int) pw, ~bit);
        if (load(levels[level], (int) index) != 0) {
            // a concurrent set filled the word after we saw it zero: restore the summary
            ensureAncestors(level + 1, index);
            return;
        }
        if ((old & ~bit) == 0) {
            clearParent(level + 1, pw);
        }
    }

    private static long wordMask(long w, long start, long last) {
        long lo = w == start >>> 6 ? -1L << start : -1L;
        long hi = w == last >>> 6 ? -1L >>> (63 - (last & 63)) : -1L;
        return lo & hi;
    }

    private static long load(long[] words, int i) {
        return (long) WORD.getVolatile(words, i);
    }

    private void checkIndex(long bit) {
        if (bit < 0 || bit >= size) {
            throw new IndexOutOfBoundsException("bit " + bit + " of " + size);
        }
    }

    private void checkRange(long start, long n) {
        if (start < 0 || n < 0 || start > size - n) {
            throw new IndexOutOfBoundsException("bits [" + start + ", +" + n + ") of " + size);
        }
    }
}
