package dev.converge.migration.precopy;

import java.time.Duration;
import java.util.Objects;

/**
 * Whether a precopy migration has converged: the pages still dirty could be sent, and the
 * switchover's fixed cost paid, within the downtime limit
 * ({@code remaining ÷ bandwidth + fixed cost ≤ limit}). The fixed cost is what the switchover
 * costs beyond sending RAM: the destination's lag behind the stream (what is in flight still
 * has to be applied), the ack round trip and START's round trip to the destination's resume. The
 * sender measures it on the return path and passes it in; this stays pure policy, no I/O: the
 * sender (mechanism) asks it after every pass.
 *
 * @param downtimeLimit       the longest the vCPUs may stay stopped for the switchover (QEMU's downtime-limit;
 *                            its default is MigrationParameters')
 * @param switchoverBandwidth bytes per second the switchover may use (QEMU's avail-switchover-bandwidth); when
 *                            positive it replaces the measured bandwidth in the estimate, 0 uses the measurement
 */
public record ConvergencePolicy(Duration downtimeLimit, long switchoverBandwidth) {
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
     * @param expectedDowntimeMs remaining ÷ bandwidth plus the fixed cost, in ms; {@link Long#MAX_VALUE} when
     *                           bandwidth is unknown
     * @param converged          whether the expected downtime is within the limit
     */
    public record Estimate(long remainingBytes, double bandwidth, long expectedDowntimeMs, boolean converged) {
    }

    /** Evaluates the numbers of one pass with no fixed switchover cost. */
    public Estimate evaluate(long remainingBytes, double bandwidth) {
        return evaluate(remainingBytes, bandwidth, Duration.ZERO);
    }

    /**
     * Evaluates the numbers of one pass.
     *
     * @param fixedCost the switchover's measured cost beyond sending {@code remainingBytes} (lag, round trips)
     */
    public Estimate evaluate(long remainingBytes, double bandwidth, Duration fixedCost) {
        return evaluate(remainingBytes, bandwidth, Duration.ZERO, fixedCost);
    }

    /**
     * Evaluates the numbers of one pass when the stop itself takes a while and the sender sends
     * meanwhile: {@code max(remaining ÷ bandwidth, stopCost) + fixedCost}. The sender asks the
     * vCPUs to stop and sends what is dirty while they leave the guest (a KVM vCPU that waits for
     * a host CPU to take its kick runs no guest code meanwhile, so it dirties nothing), so the
     * two overlap; the downtime counts from the stop request either way.
     *
     * @param stopCost  how long the vCPUs take to stop after the request (KVM: the kick latency)
     * @param fixedCost the switchover's measured cost beyond sending and stopping (lag, round trips, device state)
     */
    public Estimate evaluate(long remainingBytes, double bandwidth, Duration stopCost, Duration fixedCost) {
        if (remainingBytes < 0) {
            throw new IllegalArgumentException("remaining bytes: " + remainingBytes + " (expected: >= 0)");
        }
        Objects.requireNonNull(fixedCost);
        Objects.requireNonNull(stopCost);
        if (fixedCost.isNegative()) {
            throw new IllegalArgumentException("fixed switchover cost: " + fixedCost + " (expected: >= 0)");
        }
        if (stopCost.isNegative()) {
            throw new IllegalArgumentException("stop cost: " + stopCost + " (expected: >= 0)");
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
        if (downtimeMs != Long.MAX_VALUE) {
            // Each part rounded up to whole ms: the estimate never undershoots.
            downtimeMs = Math.max(downtimeMs, ceilMs(stopCost));
            long fixedMs = ceilMs(fixedCost);
            downtimeMs = downtimeMs > Long.MAX_VALUE - fixedMs ? Long.MAX_VALUE : downtimeMs + fixedMs;
        }
        return new Estimate(remainingBytes, bandwidth, downtimeMs,
                downtimeMs != Long.MAX_VALUE && downtimeMs <= downtimeLimit.toMillis());
    }

    private static long ceilMs(Duration d) {
        long nanos = d.toNanos();
        return nanos / 1_000_000 + (nanos % 1_000_000 == 0 ? 0 : 1);
    }
}
