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
    private final Set<MigrationCapability> capabilities = EnumSet.copyOf(MigrationCapability.defaults());
    /** ms; volatile: read by the job thread. */
    private volatile long downtimeLimitMs = DEFAULT_DOWNTIME_LIMIT_MS;
    /** bytes/s, 0 = unlimited; volatile: read by the job thread. */
    private volatile long maxBandwidth = DEFAULT_MAX_BANDWIDTH;
    /** bytes/s, 0 = use the measured bandwidth; volatile: read by the job thread. */
    private volatile long availSwitchoverBandwidth;
    /** Auto-converge's parameters (one immutable record, so the job thread reads a consistent set). */
    private volatile AutoConverge.Params autoConverge = AutoConverge.Params.DEFAULTS;

    /** QEMU's default vcpu-dirty-limit, MB/s per vCPU. */
    public static final long DEFAULT_VCPU_DIRTY_LIMIT = 1;
    /** QEMU's default x-vcpu-dirty-limit-period, ms. */
    public static final long DEFAULT_DIRTY_LIMIT_PERIOD_MS = 1000;

    /** MB/s per vCPU that the dirty-limit capability caps the guest to; volatile: read by the job thread. */
    private volatile long vcpuDirtyLimit = DEFAULT_VCPU_DIRTY_LIMIT;
    /** x-vcpu-dirty-limit-period, ms (kept and reported; see the schema's note). */
    private volatile long dirtyLimitPeriodMs = DEFAULT_DIRTY_LIMIT_PERIOD_MS;

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
     * @param throttleTriggerThreshold auto-converge's and dirty-limit's trigger, % of the bytes sent
     * @param vcpuDirtyLimit           dirty-limit's cap, MB/s per vCPU
     * @param dirtyLimitPeriod         x-vcpu-dirty-limit-period, ms
     */
    public record Update(Long downtimeLimit, Long maxBandwidth, Long availSwitchoverBandwidth, Long cpuThrottleInitial,
            Long cpuThrottleIncrement, Boolean cpuThrottleTailslow, Long maxCpuThrottle, Long throttleTriggerThreshold,
            Long vcpuDirtyLimit, Long dirtyLimitPeriod) {
    }

    /**
     * Checks what the parameters would be after {@code u}, in QEMU's order and with its texts
     * (migrate_params_check tests the merged set and names parameters with underscores), so a
     * value valid alone can still be refused next to the others (max_cpu_throttle below
     * cpu_throttle_initial).
     *
     * @return the first problem, or null when all are valid
     */
    public String check(Update u) {
        AutoConverge.Params a = autoConverge;
        long threshold = or(u.throttleTriggerThreshold(), a.triggerThreshold());
        long initial = or(u.cpuThrottleInitial(), a.initial());
        long increment = or(u.cpuThrottleIncrement(), a.increment());
        long max = or(u.maxCpuThrottle(), a.max());
        if (threshold < 1 || threshold > 100) {
            return invalid("throttle_trigger_threshold", "an integer in the range of 1 to 100");
        }
        if (initial < 1 || initial > 99) {
            return invalid("cpu_throttle_initial", "an integer in the range of 1 to 99");
        }
        if (increment < 1 || increment > 99) {
            return invalid("cpu_throttle_increment", "an integer in the range of 1 to 99");
        }
        if (u.maxBandwidth() != null && u.maxBandwidth() < 0) {
            return invalid("max_bandwidth", "a non-negative size");
        }
        if (u.availSwitchoverBandwidth() != null && u.availSwitchoverBandwidth() < 0) {
            return invalid("avail_switchover_bandwidth", "a non-negative size");
        }
        if (u.downtimeLimit() != null && checkDowntimeLimit(u.downtimeLimit()) != null) {
            return checkDowntimeLimit(u.downtimeLimit());
        }
        if (max < initial || max > 99) {
            return invalid("max_cpu_throttle", "an integer in the range of cpu_throttle_initial to 99");
        }
        long period = or(u.dirtyLimitPeriod(), dirtyLimitPeriodMs);
        if (period < 1 || period > 1000) {
            return invalid("x-vcpu-dirty-limit-period", "a value between 1 and 1000");
        }
        if (or(u.vcpuDirtyLimit(), vcpuDirtyLimit) < 1) {
            return invalid("vcpu_dirty_limit", "is invalid, it must greater then 1 MB/s");
        }
        return null;
    }

    private static long or(Long value, long current) {
        return value == null ? current : value;
    }

    private static String invalid(String name, String expects) {
        return "Parameter '" + name + "' expects " + expects;
    }

    /**
     * Applies {@code u} after checking all of it: nothing changes when one value is bad.
     * max-bandwidth is applied here too; a running job's speed is the caller's (engine.setSpeed).
     *
     * @throws IllegalArgumentException with {@link #check}'s text
     */
    public void apply(Update u) {
        String error = check(u);
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
                (int) or(u.cpuThrottleInitial(), a.initial()),
                (int) or(u.cpuThrottleIncrement(), a.increment()),
                u.cpuThrottleTailslow() == null ? a.tailslow() : u.cpuThrottleTailslow(),
                (int) or(u.maxCpuThrottle(), a.max()),
                (int) or(u.throttleTriggerThreshold(), a.triggerThreshold()));
        vcpuDirtyLimit = or(u.vcpuDirtyLimit(), vcpuDirtyLimit);
        dirtyLimitPeriodMs = or(u.dirtyLimitPeriod(), dirtyLimitPeriodMs);
    }

    /** vcpu-dirty-limit, MB/s per vCPU. */
    public long vcpuDirtyLimit() {
        return vcpuDirtyLimit;
    }

    /** x-vcpu-dirty-limit-period, ms. */
    public long dirtyLimitPeriodMs() {
        return dirtyLimitPeriodMs;
    }

    /**
     * Checks a capability change as QEMU's migrate_caps_check (on the set it would give).
     *
     * @return the problem, or null when the result is valid
     */
    public String checkCapabilities(java.util.Map<MigrationCapability, Boolean> changes) {
        Set<MigrationCapability> next = capabilities();
        changes.forEach((c, on) -> {
            if (on) {
                next.add(c);
            } else {
                next.remove(c);
            }
        });
        if (next.contains(MigrationCapability.DIRTY_LIMIT) && next.contains(MigrationCapability.AUTO_CONVERGE)) {
            return "dirty-limit conflicts with auto-converge either of then available currently";
        }
        return null;
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
}
