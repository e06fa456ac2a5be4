package dev.converge.block;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;

/**
 * The I/O counters of one node (QEMU's BlockAcctStats, kept per node): bytes, operations, total
 * time, failed and invalid operations per kind, and when the last request ended. Every request
 * of the node's one request path ({@link BlockNode}) adds to them with {@link LongAdder}s, so
 * concurrent requests never contend on a counter; a reader sums them (a snapshot that may be a
 * request or two behind, as QEMU's is).
 */
public final class IoStats {
    /** The kinds QEMU accounts (write-zeroes counts as a write, discard as unmap). */
    public enum Kind { READ, WRITE, FLUSH, UNMAP }

    private final LongAdder[] bytes = adders();
    private final LongAdder[] ops = adders();
    private final LongAdder[] timeNs = adders();
    private final LongAdder[] failed = adders();
    private final LongAdder[] invalid = adders();
    /** System.nanoTime() at the end of the last request, or 0 before the first. */
    private final AtomicLong lastEnd = new AtomicLong();
    /** The end of the highest write so far (QEMU's wr_highest_offset). */
    private final LongAccumulator writeEnd = new LongAccumulator(Math::max, 0);

    private static LongAdder[] adders() {
        LongAdder[] a = new LongAdder[Kind.values().length];
        for (int i = 0; i < a.length; i++) {
            a[i] = new LongAdder();
        }
        return a;
    }

    /** Accounts one admitted request that started at {@code startNs}; a failed one only as failed (as QEMU). */
    void account(Kind kind, long len, long startNs, boolean ok) {
        long end = System.nanoTime();
        int k = kind.ordinal();
        if (ok) {
            bytes[k].add(len);
            ops[k].increment();
            timeNs[k].add(end - startNs);
        } else {
            failed[k].increment();
        }
        lastEnd.set(end);
    }

    /** Records that a write reached up to {@code end} (exclusive). */
    void wrote(long end) {
        writeEnd.accumulate(end);
    }

    /** Accounts a request refused before it was admitted (bad range, read-only node). */
    void invalid(Kind kind) {
        invalid[kind.ordinal()].increment();
    }

    /** A consistent-enough snapshot of the counters. */
    public Snapshot snapshot() {
        long last = lastEnd.get();
        return new Snapshot(sum(bytes), sum(ops), sum(timeNs), sum(failed), sum(invalid),
                last == 0 ? -1 : Math.max(0, System.nanoTime() - last), writeEnd.get());
    }

    private static long[] sum(LongAdder[] a) {
        long[] s = new long[a.length];
        for (int i = 0; i < a.length; i++) {
            s[i] = a[i].sum();
        }
        return s;
    }

    /**
     * Counters summed at one moment, indexed by {@link Kind#ordinal()}.
     *
     * @param idleNs          nanoseconds since the last request ended, or -1 before the first
     * @param writeHighOffset the end of the highest write so far
     */
    public record Snapshot(long[] bytes, long[] ops, long[] timeNs, long[] failed, long[] invalid, long idleNs,
            long writeHighOffset) {
        public long bytes(Kind k) {
            return bytes[k.ordinal()];
        }

        public long ops(Kind k) {
            return ops[k.ordinal()];
        }

        public long timeNs(Kind k) {
            return timeNs[k.ordinal()];
        }

        public long failed(Kind k) {
            return failed[k.ordinal()];
        }

        public long invalid(Kind k) {
            return invalid[k.ordinal()];
        }
    }
}
