package dev.converge.migration.machine;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The dirty log of one RAM block: one bit per 4 KiB page, set by the guest write path and
 * handed over to a {@link MigrationBitmap} by {@link #drainInto}.
 * <p>
 * Lock-free by design: vCPUs mark pages with an atomic OR ({@code lock or} on x86), the
 * migration thread takes whole words with an atomic exchange. The write path stores the data
 * first and marks afterwards, so whoever collects a bit by exchange also sees the data that
 * set it (the exchange reads the value written by the OR: a synchronizes-with edge). A write
 * whose mark lands after the exchange simply stays in the log for the next sync: no write is
 * ever lost, at worst a page is sent twice.
 * <p>
 * The mark is unconditional on purpose: a "read the word, skip if already set" shortcut would
 * let a data store be reordered after that plain check and miss the next sync.
 */
public final class DirtyLog {
    private static final VarHandle WORDS = MethodHandles.arrayElementVarHandle(long[].class);

    /** The bits; every access goes through {@link #WORDS} with volatile or atomic semantics. */
    private final long[] words;
    /**
     * Pages ever written since the memory was last zeroed: every bit ever drained plus every
     * page loaded by an incoming migration. Kept off the guest write path (it costs nothing
     * there): a page written since the last drain is still in {@link #words}. A page with
     * neither bit set is zero. Accessed through {@link #WORDS} atomically (the draining
     * migration thread and the incoming thread of a destination may both set bits).
     */
    private final long[] written;
    private final long pages;

    /** A log for {@code pages} pages, all clean. */
    public DirtyLog(long pages) {
        if (pages < 0 || pages > (long) Integer.MAX_VALUE * 64) {
            throw new IllegalArgumentException("pages: " + pages + " (expected: 0.." + (long) Integer.MAX_VALUE * 64 + ")");
        }
        this.pages = pages;
        this.words = new long[(int) ((pages + 63) >>> 6)];
        this.written = new long[words.length];
    }

    /** Number of pages covered. */
    public long pages() {
        return pages;
    }

    /** Marks {@code page} dirty. Called by the write path after the data is stored. */
    public void mark(long page) {
        WORDS.getAndBitwiseOr(words, (int) (page >>> 6), 1L << (page & 63));
    }

    /**
     * Marks every page set in {@code bits} (one bit per page, word {@code i} covers pages
     * {@code 64*i..64*i+63}), starting at word {@code fromWord}: the dirty pages an accelerator
     * collected outside the guest write path.
     */
    public void markWords(int fromWord, long[] bits, int count) {
        for (int i = 0; i < count; i++) {
            if (bits[i] != 0) {
                WORDS.getAndBitwiseOr(words, fromWord + i, bits[i]);
            }
        }
    }

    /** Whether {@code page} is marked (a snapshot; for tests and diagnostics). */
    public boolean isDirty(long page) {
        return ((long) WORDS.getVolatile(words, (int) (page >>> 6)) & (1L << (page & 63))) != 0;
    }

    /**
     * Moves every mark into {@code target} (bitwise OR) and clears this log, word by word with
     * an atomic exchange, so that marks racing the call are either taken now or left for the
     * next call, never dropped.
     *
     * @return the number of bits newly set in {@code target}
     */
    public long drainInto(long[] target) {
        if (target.length != words.length) {
            throw new IllegalArgumentException("target words: " + target.length + " (expected: " + words.length + ")");
        }
        long added = 0;
        for (int i = 0; i < words.length; i++) {
            // A word that reads as zero is skipped without a write: any mark landing after this
            // read stays in the log for the next sync.
            if ((long) WORDS.getVolatile(words, i) == 0) {
                continue;
            }
            long taken = (long) WORDS.getAndSet(words, i, 0L);
            WORDS.getAndBitwiseOr(written, i, taken);
            added += Long.bitCount(taken & ~target[i]);
            target[i] |= taken;
        }
        return added;
    }

    /**
     * Records that {@code page} holds data that did not come through the guest write path (an
     * incoming migration loaded it), so a later outgoing migration sends it.
     */
    public void markWritten(long page) {
        WORDS.getAndBitwiseOr(written, (int) (page >>> 6), 1L << (page & 63));
    }

    /**
     * ORs into {@code target} every page ever written: the pages drained before and those
     * still in the log (the log keeps its marks). A page left clear in both is zero.
     */
    public void everWrittenInto(long[] target) {
        if (target.length != words.length) {
            throw new IllegalArgumentException("target words: " + target.length + " (expected: " + words.length + ")");
        }
        for (int i = 0; i < words.length; i++) {
            target[i] |= (long) WORDS.getVolatile(written, i) | (long) WORDS.getVolatile(words, i);
        }
    }

    /** Whether {@code page} was ever written (see {@link #everWrittenInto}). */
    public boolean everWritten(long page) {
        int i = (int) (page >>> 6);
        long bit = 1L << (page & 63);
        return (((long) WORDS.getVolatile(written, i) | (long) WORDS.getVolatile(words, i)) & bit) != 0;
    }

    /** Forgets what was ever written (the memory was just zeroed); keeps the log. */
    void forgetWritten() {
        for (int i = 0; i < written.length; i++) {
            WORDS.setVolatile(written, i, 0L);
        }
    }
}
