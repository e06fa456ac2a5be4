package dev.converge.migration.job;

import dev.converge.migration.precopy.AutoConverge;
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
    /** Auto-converge's parameters (one immutable record, so the job thread reads a consistent set). */
    private volatile AutoConverge.Params autoConverge = AutoConverge.Params.DEFAULTS;

    /**
     * What one migrate-set-parameters sets; null members stay as they are.
     *
     * @param downtimeLimit            ms
     * @param maxBandwidth             bytes/s
     * @param availSwitchoverBandwidth bytes/s
     * @param cpuThrottleInitial       auto-converge's first throttle, %
     * @param cpuThrottleIncrement     auto-converge's step, %
     * @param cpuThrottleTailslow      auto-converge's smaller steps near the goal
     * @param maxCpuThrottle           auto-converge's ceiling, %
     * @param throttleTriggerThreshold auto-converge's trigger, % of the bytes sent
     */
    public record Update(Long downtimeLimit, Long maxBandwidth, Long availSwitchoverBandwidth, Long cpuThrottleInitial,
            Long cpuThrottleIncrement, Boolean cpuThrottleTailslow, Long maxCpuThrottle, Long throttleTriggerThreshold) {

        /**
         * The first value out of range, with QEMU's text (migrate_params_check names parameters
         * with underscores), or null when all are valid.
         */
        public String check() {
            if (downtimeLimit != null && checkDowntimeLimit(downtimeLimit) != null) {
                return checkDowntimeLimit(downtimeLimit);
            }
            if (maxBandwidth != null && maxBandwidth < 0) {
                return "Parameter 'max_bandwidth' expects a non-negative size";
            }
            if (availSwitchoverBandwidth != null && availSwitchoverBandwidth < 0) {
                return "Parameter 'avail_switchover_bandwidth' expects a non-negative size";
            }
            String e = range("throttle_trigger_threshold", throttleTriggerThreshold, 100);
            e = e != null ? e : range("cpu_throttle_initial", cpuThrottleInitial, 99);
            e = e != null ? e : range("cpu_throttle_increment", cpuThrottleIncrement, 99);
            return e != null ? e : range("max_cpu_throttle", maxCpuThrottle, 99);
        }

        private static String range(String name, Long value, int max) {
            return value != null && (value < 1 || value > max)
                    ? "Parameter '" + name + "' expects an integer in the range of 1 to " + max : null;
        }
    }

    /**
     * Applies {@code u} after checking all of it: nothing changes when one value is bad.
     * max-bandwidth is applied here too; a running job's speed is the caller's (engine.setSpeed).
     *
     * @throws IllegalArgumentException with {@link Update#check()}'s text
     */
    public void apply(Update u) {
        String error = u.check();
        if (error != null) {
            throw new IllegalArgumentException(error);
        }
        if (u.downtimeLimit() != null) {
            downtimeLimitMs = u.downtimeLimit();
        }
        if (u.maxBandwidth() != null) {
            maxBandwidth = u.maxBandwidth();
        }
        if (u.availSwitchoverBandwidth() != null) {
            availSwitchoverBandwidth = u.availSwitchoverBandwidth();
        }
        AutoConverge.Params a = autoConverge;
        autoConverge = new AutoConverge.Params(
                u.cpuThrottleInitial() == null ? a.initial() : u.cpuThrottleInitial().intValue(),
                u.cpuThrottleIncrement() == null ? a.increment() : u.cpuThrottleIncrement().intValue(),
                u.cpuThrottleTailslow() == null ? a.tailslow() : u.cpuThrottleTailslow(),
                u.maxCpuThrottle() == null ? a.max() : u.maxCpuThrottle().intValue(),
                u.throttleTriggerThreshold() == null ? a.triggerThreshold() : u.throttleTriggerThreshold().intValue());
    }

    /** Auto-converge's parameters now (whether it is on is the capability's). */
    public AutoConverge.Params autoConverge() {
        return autoConverge;
    }

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
