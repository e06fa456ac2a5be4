package dev.converge.job;

/**
 * A byte-rate limiter with QEMU's ratelimit.h semantics: time is cut into slices (100 ms for
 * jobs); each slice may dispatch {@code speed × slice} bytes; a caller that exceeds the quota
 * is told how long to wait so that the average stays at the speed, and the slice is extended
 * to cover the excess.
 * <p>
 * Pure and not thread-safe: the job engine guards it with the job lock and passes the time in,
 * so tests drive it with synthetic clocks.
 */
public final class RateLimit {
    /** The slice length jobs use (QEMU's BLOCK_JOB_SLICE_TIME). */
    public static final long SLICE_NANOS = 100_000_000L;

    private final long sliceNanos;
    /** Bytes allowed per slice; 0 = unlimited. */
    private long sliceQuota;
    private boolean inSlice;
    private long sliceStart;
    private long sliceEnd;
    private long dispatched;

    public RateLimit() {
        this(SLICE_NANOS);
    }

    public RateLimit(long sliceNanos) {
        if (sliceNanos <= 0) {
            throw new IllegalArgumentException("sliceNanos: " + sliceNanos + " (expected: > 0)");
        }
        this.sliceNanos = sliceNanos;
    }

    /** Sets the speed in bytes per second; 0 turns limiting off. */
    public void setSpeed(long bytesPerSecond) {
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("bytesPerSecond: " + bytesPerSecond + " (expected: >= 0)");
        }
        sliceQuota = bytesPerSecond == 0 ? 0 : Math.max((long) ((double) bytesPerSecond * sliceNanos / 1e9), 1);
    }

    /** Whether a speed is set. */
    public boolean isLimited() {
        return sliceQuota != 0;
    }

    /**
     * Accounts {@code n} bytes just dispatched (0 to only ask) and returns how many nanoseconds
     * the caller must wait before dispatching more; 0 when it may go on at once.
     *
     * @param nowNanos the current time, of a monotonic clock (System.nanoTime)
     */
    public long calculateDelay(long n, long nowNanos) {
        if (n < 0) {
            throw new IllegalArgumentException("n: " + n + " (expected: >= 0)");
        }
        if (sliceQuota == 0) {
            return 0;
        }
        if (!inSlice || nowNanos - sliceEnd > 0) {
            // The previous (possibly extended) slice is over: start accounting afresh.
            inSlice = true;
            sliceStart = nowNanos;
            sliceEnd = nowNanos + sliceNanos;
            dispatched = 0;
        }
        dispatched += n;
        if (dispatched < sliceQuota) {
            return 0;
        }
        // Quota exceeded: extend the slice to cover what was dispatched and wait until its end.
        double slices = (double) dispatched / sliceQuota;
        sliceEnd = sliceStart + (long) (slices * sliceNanos);
        return Math.max(0, sliceEnd - nowNanos);
    }
}
