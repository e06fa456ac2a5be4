package dev.converge.migration.precopy;

import java.time.Duration;
import java.util.Objects;

/**
 * Whether a precopy migration has converged: the pages still dirty could be sent within the
 * downtime limit at the bandwidth measured so far ({@code remaining ÷ bandwidth ≤ limit}).
 * Pure policy, no I/O: the sender (mechanism) asks it after every pass.
 *
 * @param downtimeLimit       the longest the vCPUs may stay stopped for the switchover (QEMU's downtime-limit, default 300 ms)
 * @param switchoverBandwidth bytes per second the switchover may use (QEMU's avail-switchover-bandwidth); when
 *                            positive it replaces the measured bandwidth in the estimate, 0 uses the measurement
 */
public record ConvergencePolicy(Duration downtimeLimit, long switchoverBandwidth) {
    /** QEMU's default downtime-limit. */
    public static final Duration DEFAULT_DOWNTIME_LIMIT = Duration.ofMillis(300);

    public ConvergencePolicy {
        Objects.requireNonNull(downtimeLimit);
        if (downtimeLimit.isNegative()) {
            throw new IllegalArgumentException("downtime-limit: " + downtimeLimit + " (expected: >= 0)");
        }
        if (switchoverBandwidth < 0) {
            throw new IllegalArgumentException("avail-switchover-bandwidth: " + switchoverBandwidth + " (expected: >= 0)");
        }
    }

    /** A policy that uses the measured bandwidth. */
    public ConvergencePolicy(Duration downtimeLimit) {
        this(downtimeLimit, 0);
    }

    /**
     * One evaluation.
     *
     * @param remainingBytes     bytes still dirty
     * @param bandwidth          bytes per second measured over the last pass, 0 when unknown
     * @param expectedDowntimeMs remaining ÷ bandwidth in ms; {@link Long#MAX_VALUE} when bandwidth is unknown
     * @param converged          whether the expected downtime is within the limit
     */
    public record Estimate(long remainingBytes, double bandwidth, long expectedDowntimeMs, boolean converged) {
    }

    /** Evaluates the numbers of one pass. */
    public Estimate evaluate(long remainingBytes, double bandwidth) {
        if (remainingBytes < 0) {
            throw new IllegalArgumentException("remaining bytes: " + remainingBytes + " (expected: >= 0)");
        }
        if (switchoverBandwidth > 0) {
            bandwidth = switchoverBandwidth;
        }
        long downtimeMs;
        if (remainingBytes == 0) {
            downtimeMs = 0;
        } else if (!(bandwidth > 0) || Double.isInfinite(bandwidth)) {
            downtimeMs = Long.MAX_VALUE;
        } else {
            double ms = Math.ceil(remainingBytes * 1000.0 / bandwidth);
            downtimeMs = ms >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) ms;
        }
        return new Estimate(remainingBytes, bandwidth, downtimeMs,
                downtimeMs != Long.MAX_VALUE && downtimeMs <= downtimeLimit.toMillis());
    }
}
