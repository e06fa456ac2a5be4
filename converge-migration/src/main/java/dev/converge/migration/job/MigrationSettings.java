package dev.converge.migration.job;

import java.util.EnumSet;
import java.util.Set;

/**
 * The capabilities and parameters of one daemon, as QEMU's migrate-set-capabilities and
 * migrate-set-parameters keep them. Written on the main loop only; the parameters are volatile
 * because a running migration job reads them on its own thread after every pass, so a change
 * applies at once.
 */
public final class MigrationSettings {
    /** QEMU's default downtime-limit in ms. */
    public static final long DEFAULT_DOWNTIME_LIMIT_MS = 300;
    /** QEMU's MAX_MIGRATE_DOWNTIME in ms (2000 s). */
    public static final long MAX_DOWNTIME_LIMIT_MS = 2_000_000;
    /** QEMU's default max-bandwidth: 128 MiB/s. */
    public static final long DEFAULT_MAX_BANDWIDTH = 128L << 20;

    /** Enabled capabilities; main loop only (a migration takes a snapshot at its start). */
    private final Set<MigrationCapability> capabilities = EnumSet.noneOf(MigrationCapability.class);
    /** ms; volatile: read by the job thread. */
    private volatile long downtimeLimitMs = DEFAULT_DOWNTIME_LIMIT_MS;
    /** bytes/s, 0 = unlimited; volatile: read by the job thread. */
    private volatile long maxBandwidth = DEFAULT_MAX_BANDWIDTH;
    /** bytes/s, 0 = use the measured bandwidth; volatile: read by the job thread. */
    private volatile long availSwitchoverBandwidth;

    /** Whether {@code c} is on. Main loop (or a snapshot taken there). */
    public boolean has(MigrationCapability c) {
        return capabilities.contains(c);
    }

    /** A copy of the enabled capabilities. */
    public Set<MigrationCapability> capabilities() {
        return capabilities.isEmpty() ? EnumSet.noneOf(MigrationCapability.class) : EnumSet.copyOf(capabilities);
    }

    /** Turns {@code c} on or off. Main loop. */
    public void set(MigrationCapability c, boolean on) {
        if (on) {
            capabilities.add(c);
        } else {
            capabilities.remove(c);
        }
    }

    public long downtimeLimitMs() {
        return downtimeLimitMs;
    }

    public long maxBandwidth() {
        return maxBandwidth;
    }

    public long availSwitchoverBandwidth() {
        return availSwitchoverBandwidth;
    }

    /**
     * Checks a downtime-limit as QEMU's migrate_params_check.
     *
     * @return the error text, or null when valid
     */
    public static String checkDowntimeLimit(long ms) {
        return ms < 0 || ms > MAX_DOWNTIME_LIMIT_MS
                ? "Parameter 'downtime_limit' expects an integer in the range of 0 to " + MAX_DOWNTIME_LIMIT_MS + " ms"
                : null;
    }

    public void setDowntimeLimitMs(long ms) {
        if (checkDowntimeLimit(ms) != null) {
            throw new IllegalArgumentException(checkDowntimeLimit(ms));
        }
        downtimeLimitMs = ms;
    }

    public void setMaxBandwidth(long bytesPerSecond) {
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("max-bandwidth: " + bytesPerSecond + " (expected: >= 0)");
        }
        maxBandwidth = bytesPerSecond;
    }

    public void setAvailSwitchoverBandwidth(long bytesPerSecond) {
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("avail-switchover-bandwidth: " + bytesPerSecond + " (expected: >= 0)");
        }
        availSwitchoverBandwidth = bytesPerSecond;
    }
}
