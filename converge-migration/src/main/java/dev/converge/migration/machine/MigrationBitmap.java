package dev.converge.migration.machine;

import java.util.ArrayList;
import java.util.List;

/**
 * The pages of each RAM block that the migration still has to send. Owned by the one thread
 * that runs the migration (not thread-safe by design: the vCPUs never touch it, they only
 * write the {@link DirtyLog}, which {@link GuestRam#syncDirtyLog} drains into this bitmap).
 */
public final class MigrationBitmap {
    /** One word array per RAM block, in block order; written only by the owning thread. */
    private final List<long[]> blocks;
    private final long[] pagesPerBlock;

    MigrationBitmap(List<RamBlock> ramBlocks) {
        this.blocks = new ArrayList<>(ramBlocks.size());
        this.pagesPerBlock = new long[ramBlocks.size()];
        for (int i = 0; i < ramBlocks.size(); i++) {
            long pages = ramBlocks.get(i).pages();
            pagesPerBlock[i] = pages;
            blocks.add(new long[(int) ((pages + 63) >>> 6)]);
        }
    }

    /**
     * The live words of {@code block} (bit i of word w: page 64 w + i), for the owning thread:
     * postcopy sends them to the destination and rebuilds them from its received bitmap.
     */
    public long[] words(int block) {
        return blocks.get(block);
    }

    /** Sets the mark of one page. */
    public void set(int block, long page) {
        blocks.get(block)[(int) (page >>> 6)] |= 1L << (page & 63);
    }

    /** Number of RAM blocks covered. */
    public int blockCount() {
        return blocks.size();
    }

    /** Marks every page of every block (the first pass sends all RAM). */
    public void setAll() {
        for (int b = 0; b < blocks.size(); b++) {
            long[] w = blocks.get(b);
            long pages = pagesPerBlock[b];
            for (int i = 0; i < w.length; i++) {
                long remaining = pages - (long) i * 64;
                w[i] = remaining >= 64 ? -1L : (1L << remaining) - 1;
            }
        }
    }

    /** The first marked page of {@code block} at or after {@code from}, or -1. */
    public long nextSet(int block, long from) {
        long[] w = blocks.get(block);
        if (from >= pagesPerBlock[block]) {
            return -1;
        }
        int i = (int) (from >>> 6);
        long word = w[i] & (-1L << (from & 63));
        while (true) {
            if (word != 0) {
                return (long) i * 64 + Long.numberOfTrailingZeros(word);
            }
            if (++i == w.length) {
                return -1;
            }
            word = w[i];
        }
    }

    /** Clears the mark of one page (it is about to be sent). */
    public void clear(int block, long page) {
        blocks.get(block)[(int) (page >>> 6)] &= ~(1L << (page & 63));
    }

    /** Whether a page is marked. */
    public boolean isSet(int block, long page) {
        return (blocks.get(block)[(int) (page >>> 6)] & (1L << (page & 63))) != 0;
    }

    /** Number of marked pages over all blocks. */
    public long count() {
        long n = 0;
        for (long[] w : blocks) {
            for (long x : w) {
                n += Long.bitCount(x);
            }
        }
        return n;
    }
}
