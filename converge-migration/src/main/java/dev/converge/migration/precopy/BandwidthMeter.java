package dev.converge.migration.precopy;

/**
 * The stream's bandwidth as the switchover estimate needs it: measured over windows of at least
 * {@value #WINDOW_NANOS} ns of sending (one long pass, or several short ones together, as QEMU
 * measures its bandwidth over iterations of at least 100 ms), and judged by the slowest of the
 * last {@value #WINDOW} windows.
 * <p>
 * Why windows: near convergence a guest leaves 6-12 MiB per pass, sent in 20-40 ms; on two busy
 * CPUs one preemption of the sender (a few ms to tens of ms) then halves that pass's rate, and
 * the slowest of three such passes was half the link's, which kept a 50 ms limit out of reach
 * for 1700 passes. Over 100 ms and more such stalls weigh what they really cost.
 * <p>
 * Why the slowest window: on two busy CPUs one window's rate still swings by ±30 % from the
 * next, and the stopped window's send then often ran slower than the window the estimate was
 * taken from. The slowest recent window is a rate the stream has really shown. Even so the
 * stopped window's send, a short burst that starts from an idle connection, ran at 0.6–1.5× the
 * slowest recent pass (2 GiB guests, loopback, two busy CPUs), so {@link #forSwitchover} assumes
 * {@value #SWITCHOVER_SHARE} of it. Pure: no clock of its own.
 * <p>
 * Why the first pass does not count once a later window is known ({@link #firstPassOver}): it
 * writes every page of the destination for the first time, and the destination's kernel zeroes
 * each fresh page before the copy lands (seen on a 512 MiB KVM guest: the first pass at 200-360
 * MB/s, the later ones at 0.9-1.4 GB/s, with page zeroing 17 % of both CPUs during the run); no
 * later pass pays that, so its rate would hold the estimate down for three more windows.
 */
final class BandwidthMeter {
    /** The share of the slowest recent window's rate the switchover's send is assumed to reach. */
    static final double SWITCHOVER_SHARE = 0.8;
    /** Windows remembered. */
    static final int WINDOW = 3;
    /** The shortest sending time one window covers. */
    static final long WINDOW_NANOS = 100_000_000;
    /** A pass that sent less than this is too short to time (a few pages on a quiet guest). */
    static final long MIN_MEASURED_BYTES = 256 << 10;

    private final double[] samples = new double[WINDOW];
    private int count;
    private int next;
    private double latest;
    /** The window being filled: bytes and sending time of the passes recorded since the last sample. */
    private long windowBytes;
    private long windowNanos;
    /** Whether the windows remembered are the first pass's: the next complete window replaces them. */
    private boolean firstPassOnly;

    /**
     * Records one pass. A pass below {@link #MIN_MEASURED_BYTES} counts only while nothing
     * better is known. Passes add up into the current window until it covers {@link #WINDOW_NANOS}.
     */
    void record(long bytes, long nanos) {
        if (bytes < 0 || nanos <= 0) {
            throw new IllegalArgumentException("pass of " + bytes + " bytes in " + nanos + " ns (expected: bytes >= 0, time > 0)");
        }
        double rate = bytes * 1e9 / nanos;
        if (bytes < MIN_MEASURED_BYTES) {
            if (count == 0 && windowNanos == 0 && rate > 0) {
                latest = rate; // better than unknown; not kept as a sample
            }
            return;
        }
        latest = rate;
        windowBytes += bytes;
        windowNanos += nanos;
        if (windowNanos < WINDOW_NANOS) {
            return;
        }
        if (firstPassOnly) {
            firstPassOnly = false;
            count = 0;
            next = 0;
        }
        samples[next] = windowBytes * 1e9 / windowNanos;
        next = (next + 1) % WINDOW;
        count = Math.min(WINDOW, count + 1);
        windowBytes = 0;
        windowNanos = 0;
    }

    /**
     * The first pass is over: what was measured so far (its windows, and its unfinished window)
     * stands until the first complete window of the later passes, which then replaces it.
     */
    void firstPassOver() {
        if (count == 0 && windowNanos > 0) {
            samples[0] = windowBytes * 1e9 / windowNanos; // a short first pass: its rate stands meanwhile
            count = 1;
            next = 1 % WINDOW;
        }
        windowBytes = 0;
        windowNanos = 0;
        firstPassOnly = count > 0;
    }

    /** The last timed pass's rate in bytes/s (what query-migrate shows), 0 before any. */
    double latest() {
        return latest;
    }

    /** The rate the downtime estimate assumes for the stopped window: {@link #SWITCHOVER_SHARE} of {@link #conservative}. */
    double forSwitchover() {
        return conservative() * SWITCHOVER_SHARE;
    }

    /**
     * The slowest of the remembered windows in bytes/s; before the first full window, the rate of
     * the window being filled (or of the latest pass); 0 before any.
     */
    double conservative() {
        if (count == 0) {
            return windowNanos > 0 ? windowBytes * 1e9 / windowNanos : latest;
        }
        double min = Double.MAX_VALUE;
        for (int i = 0; i < count; i++) {
            min = Math.min(min, samples[i]);
        }
        return min;
    }
}
