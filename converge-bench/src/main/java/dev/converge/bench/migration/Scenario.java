package dev.converge.bench.migration;

import java.time.Duration;

/**
 * One migration to measure.
 *
 * @param workload    what the guest runs
 * @param memory      guest RAM in bytes
 * @param downtimeMs  {@code downtime-limit} on the source, ms
 * @param maxTime     how long the migration may run before it counts as not converging and is cancelled
 * @param dirtyRate   bytes per second converge's guest dirties (its {@code dirty-rate=}), 0 for as fast as it can;
 *                    the rate-matched row sets QEMU's measured rate here (QEMU's guest ignores it)
 * @param aid         the capability that helps a fast guest converge, turned on at the source (default parameters)
 * @param verify      whether converge's stream is verified (capability x-converge-verify, on by default); off
 *                    only for the row that shows what verification costs
 */
public record Scenario(Workload workload, long memory, long downtimeMs, Duration maxTime, long dirtyRate,
        ConvergenceAid aid, boolean verify) {
    /** A scenario whose guest dirties memory as fast as it can. */
    public Scenario(Workload workload, long memory, long downtimeMs, Duration maxTime) {
        this(workload, memory, downtimeMs, maxTime, 0, ConvergenceAid.NONE, true);
    }

    /** The same scenario with converge's guest paced at {@code bytesPerSecond}. */
    public Scenario withDirtyRate(long bytesPerSecond) {
        return new Scenario(workload, memory, downtimeMs, maxTime, bytesPerSecond, aid, verify);
    }

    /** The same scenario with {@code a} on. */
    public Scenario withAid(ConvergenceAid a) {
        return new Scenario(workload, memory, downtimeMs, maxTime, dirtyRate, java.util.Objects.requireNonNull(a), verify);
    }

    /** The same scenario with converge's stream verification on or off. */
    public Scenario withVerify(boolean on) {
        return new Scenario(workload, memory, downtimeMs, maxTime, dirtyRate, aid, on);
    }

    /**
     * {@code max-bandwidth} for "unlimited": QEMU's default is 128 MiB/s, so the benchmark sets a
     * bound no loopback reaches (1 TiB/s) on both sides.
     */
    public static final long UNLIMITED_BANDWIDTH = 1L << 40;

    public Scenario {
        if (downtimeMs <= 0) {
            throw new IllegalArgumentException("downtime: " + downtimeMs + " ms (expected: > 0)");
        }
        if (dirtyRate < 0) {
            throw new IllegalArgumentException("dirty rate: " + dirtyRate + " (expected: >= 0)");
        }
        if (memory <= 0) {
            throw new IllegalArgumentException("memory: " + memory + " (expected: > 0)");
        }
    }
}
