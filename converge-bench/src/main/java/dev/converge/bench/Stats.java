package dev.converge.bench;

import java.util.Arrays;
import java.util.Locale;

/** Latency samples in nanoseconds and what a benchmark reports of them. */
public final class Stats {
    private final long[] samples;
    private int n;

    public Stats(int capacity) {
        samples = new long[capacity];
    }

    public void add(long nanos) {
        if (n < samples.length) {
            samples[n++] = nanos;
        }
    }

    public int count() {
        return n;
    }

    /** The q-quantile (0..1) by nearest rank. */
    public long quantile(double q) {
        if (n == 0) {
            return 0;
        }
        long[] s = Arrays.copyOf(samples, n);
        Arrays.sort(s);
        int idx = (int) Math.ceil(q * n) - 1;
        return s[Math.max(0, Math.min(n - 1, idx))];
    }

    public static String micros(long nanos) {
        return String.format(Locale.ROOT, "%.1f µs", nanos / 1e3);
    }
}
