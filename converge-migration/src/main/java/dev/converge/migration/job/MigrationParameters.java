package dev.converge.migration.job;

import dev.converge.migration.precopy.AutoConverge;
import dev.converge.migration.precopy.ConvergencePolicy;
import java.time.Duration;
import java.util.Objects;

/**
 * The migration parameters of one daemon (QEMU's MigrationParameters), one immutable value: the
 * defaults are declared here once, and every change, from migrate-set-parameters or from
 * job-change on the migration job, goes through {@link #merge}, which checks the merged set
 * with QEMU's rules and texts. {@link MigrationSettings} holds the current value in one atomic
 * reference, so a running migration reads a consistent set after every pass.
 *
 * @param downtimeLimitMs          longest the vCPUs may be stopped for the switchover, ms
 * @param maxBandwidth             bytes per second the migration may use, 0 = unlimited (the job's speed)
 * @param availSwitchoverBandwidth bytes per second for the switchover estimate, 0 = use the measured bandwidth
 * @param autoConverge             auto-converge's parameters (whether it runs is a capability)
 * @param vcpuDirtyLimit           dirty-limit's cap, MB/s per vCPU
 * @param dirtyLimitPeriodMs       x-vcpu-dirty-limit-period, ms (kept and reported)
 */
public record MigrationParameters(long downtimeLimitMs, long maxBandwidth, long availSwitchoverBandwidth,
        AutoConverge.Params autoConverge, long vcpuDirtyLimit, long dirtyLimitPeriodMs) {
    /** QEMU's default downtime-limit in ms. */
    public static final long DEFAULT_DOWNTIME_LIMIT_MS = 300;
    /** QEMU's MAX_MIGRATE_DOWNTIME in ms (2000 s). */
    public static final long MAX_DOWNTIME_LIMIT_MS = 2_000_000;
    /** QEMU's default max-bandwidth: 128 MiB/s. */
    public static final long DEFAULT_MAX_BANDWIDTH = 128L << 20;
    /** QEMU's default vcpu-dirty-limit, MB/s per vCPU. */
    public static final long DEFAULT_VCPU_DIRTY_LIMIT = 1;
    /** QEMU's default x-vcpu-dirty-limit-period, ms. */
    public static final long DEFAULT_DIRTY_LIMIT_PERIOD_MS = 1000;

    /** QEMU's defaults. */
    public static final MigrationParameters DEFAULTS = new MigrationParameters(DEFAULT_DOWNTIME_LIMIT_MS,
            DEFAULT_MAX_BANDWIDTH, 0, AutoConverge.Params.DEFAULTS, DEFAULT_VCPU_DIRTY_LIMIT,
            DEFAULT_DIRTY_LIMIT_PERIOD_MS);

    public MigrationParameters {
        Objects.requireNonNull(autoConverge);
    }

    /**
     * What one change sets; null members stay as they are. migrate-set-parameters fills any of
     * them, job-change on the migration only downtime-limit and max-bandwidth.
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
        /** A change of downtime-limit and max-bandwidth only (job-change); null: unchanged. */
        public static Update ofJobChange(Long downtimeLimit, Long maxBandwidth) {
            return new Update(downtimeLimit, maxBandwidth, null, null, null, null, null, null, null, null);
        }
    }

    /** A change refused by {@link #merge}; the message is QEMU's text. */
    public static final class InvalidParameter extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        InvalidParameter(String message) {
            super(message);
        }
    }

    /**
     * These parameters with {@code u} applied, checked as one set in QEMU's order and with its
     * texts (migrate_params_check tests the merged set and names parameters with underscores),
     * so a value valid alone can still be refused next to the others (max_cpu_throttle below
     * cpu_throttle_initial).
     *
     * @throws InvalidParameter the first problem; nothing is merged then
     */
    public MigrationParameters merge(Update u) {
        String error = check(u);
        if (error != null) {
            throw new InvalidParameter(error);
        }
        AutoConverge.Params a = autoConverge;
        return new MigrationParameters(or(u.downtimeLimit(), downtimeLimitMs), or(u.maxBandwidth(), maxBandwidth),
                or(u.availSwitchoverBandwidth(), availSwitchoverBandwidth),
                new AutoConverge.Params(
                        (int) or(u.cpuThrottleInitial(), a.initial()),
                        (int) or(u.cpuThrottleIncrement(), a.increment()),
                        u.cpuThrottleTailslow() == null ? a.tailslow() : u.cpuThrottleTailslow(),
                        (int) or(u.maxCpuThrottle(), a.max()),
                        (int) or(u.throttleTriggerThreshold(), a.triggerThreshold())),
                or(u.vcpuDirtyLimit(), vcpuDirtyLimit), or(u.dirtyLimitPeriod(), dirtyLimitPeriodMs));
    }

    /**
     * The first problem {@link #merge} would refuse {@code u} for, or null when it is valid.
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
        if (u.downtimeLimit() != null && (u.downtimeLimit() < 0 || u.downtimeLimit() > MAX_DOWNTIME_LIMIT_MS)) {
            return invalid("downtime_limit", "an integer in the range of 0 to " + MAX_DOWNTIME_LIMIT_MS + " ms");
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

    /** The convergence policy these parameters make: downtime-limit and avail-switchover-bandwidth. */
    public ConvergencePolicy policy() {
        return new ConvergencePolicy(Duration.ofMillis(downtimeLimitMs), availSwitchoverBandwidth);
    }

    private static long or(Long value, long current) {
        return value == null ? current : value;
    }

    private static String invalid(String name, String expects) {
        return "Parameter '" + name + "' expects " + expects;
    }
}
