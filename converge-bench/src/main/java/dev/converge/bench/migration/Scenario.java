package dev.converge.bench.migration;

import java.time.Duration;

/**
 * One migration to measure.
 *
 * @param workload    what the guest runs
 * @param memory      guest RAM in bytes
 * @param downtimeMs  {@code downtime-limit} on the source, ms
 * @param maxTime     how long the migration may run before it counts as not converging and is cancelled
 */
public record Scenario(Workload workload, long memory, long downtimeMs, Duration maxTime) {
    /**
     * {@code max-bandwidth} for "unlimited": QEMU's default is 128 MiB/s, so the benchmark sets a
     * bound no loopback reaches (1 TiB/s) on both sides.
     */
    public static final long UNLIMITED_BANDWIDTH = 1L << 40;

    public Scenario {
        if (downtimeMs <= 0) {
            throw new IllegalArgumentException("downtime: " + downtimeMs + " ms (expected: > 0)");
        }
        if (memory <= 0) {
            throw new IllegalArgumentException("memory: " + memory + " (expected: > 0)");
        }
    }
}
