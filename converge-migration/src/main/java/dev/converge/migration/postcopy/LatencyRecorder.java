package dev.converge.migration.postcopy;

import java.util.Arrays;

/**
 * Page-request latencies of a postcopy destination: count, sum, QEMU's distribution (bucket N
 * counts latencies in [2^N, 2^(N+1)) microseconds, as query-migrate's postcopy-latency-dist),
 * and the last {@value #KEPT} samples for exact percentiles. Thread-safe (vCPUs record, QMP
 * reads); a short lock per sample, which costs nothing next to a network round trip.
 */
public final class LatencyRecorder {
    /** Buckets of the distribution (2^31 us is over half an hour). */
    public static final int BUCKETS = 32;
    static final int KEPT = 1 << 16;

    private final long[] buckets = new long[BUCKETS];
    private final long[] samples = new long[KEPT];
    private long count;
    private long sumNanos;

    /** Records one latency. */
    public synchronized void record(long nanos) {
        long us = Math.max(1, nanos / 1000);
        int bucket = Math.min(BUCKETS - 1, 63 - Long.numberOfLeadingZeros(us));
        buckets[bucket]++;
        samples[(int) (count % KEPT)] = nanos;
        count++;
        sumNanos += nanos;
    }

    /** Latencies recorded. */
    public synchronized long count() {
        return count;
    }

    /** Mean latency in ns, 0 before any. */
    public synchronized long averageNanos() {
        return count == 0 ? 0 : sumNanos / count;
    }

    /** The distribution (a copy). */
    public synchronized long[] distribution() {
        return buckets.clone();
    }

    /** The {@code q} quantile (0..1) in ns of the recent samples, 0 before any. */
    public synchronized long percentileNanos(double q) {
        int n = (int) Math.min(count, KEPT);
        if (n == 0) {
            return 0;
        }
        long[] s = Arrays.copyOf(samples, n);
        Arrays.sort(s);
        return s[(int) Math.min(n - 1, Math.floor(q * n))];
    }
}
