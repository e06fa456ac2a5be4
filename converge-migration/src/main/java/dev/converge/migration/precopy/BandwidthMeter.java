package dev.converge.migration.precopy;

/**
 * The stream's bandwidth as the switchover estimate needs it: measured per pass, and judged by
 * the slowest of the last {@value #WINDOW} passes. On two busy CPUs one pass's rate swings by
 * ±30 % from the next; the last stopped-window send then often ran slower than the pass the
 * estimate was taken from, and the downtime overshot the limit. The slowest recent pass is a
 * rate the stream has really shown, so the estimate stays on the safe side at the price of an
 * extra pass now and then. Even so the stopped window's send, a short burst that starts from an
 * idle connection, ran at 0.6–1.5× the slowest recent pass (2 GiB guests, loopback, two busy
 * CPUs), so {@link #forSwitchover} assumes {@value #SWITCHOVER_SHARE} of it. Pure: no clock of its own.
 */
final class BandwidthMeter {
    /** The share of the slowest recent pass's rate the switchover's send is assumed to reach. */
    static final double SWITCHOVER_SHARE = 0.8;
    /** Passes remembered. */
    static final int WINDOW = 3;
    /** A pass that sent less than this is too short to time (a few pages on a quiet guest). */
    static final long MIN_MEASURED_BYTES = 256 << 10;

    private final double[] samples = new double[WINDOW];
    private int count;
    private int next;
    private double latest;

    /**
     * Records one pass. A pass below {@link #MIN_MEASURED_BYTES} counts only while nothing
     * better is known.
     */
    void record(long bytes, long nanos) {
        if (bytes < 0 || nanos <= 0) {
            throw new IllegalArgumentException("pass of " + bytes + " bytes in " + nanos + " ns (expected: bytes >= 0, time > 0)");
        }
        double rate = bytes * 1e9 / nanos;
        if (bytes < MIN_MEASURED_BYTES) {
            if (count == 0 && rate > 0) {
                latest = rate; // better than unknown; not kept as a sample
            }
            return;
        }
        latest = rate;
        samples[next] = rate;
        next = (next + 1) % WINDOW;
        count = Math.min(WINDOW, count + 1);
    }

    /** The last timed pass's rate in bytes/s (what query-migrate shows), 0 before any. */
    double latest() {
        return latest;
    }

    /** The rate the downtime estimate assumes for the stopped window: {@link #SWITCHOVER_SHARE} of {@link #conservative}. */
    double forSwitchover() {
        return conservative() * SWITCHOVER_SHARE;
    }

    /** The slowest of the remembered passes in bytes/s; the latest rate before any full sample; 0 before any. */
    double conservative() {
        if (count == 0) {
            return latest;
        }
        double min = Double.MAX_VALUE;
        for (int i = 0; i < count; i++) {
            min = Math.min(min, samples[i]);
        }
        return min;
    }
}
