package dev.converge.migration.job;

import dev.converge.migration.multifd.ZeroPageDetection;
import dev.converge.migration.wire.MultifdCompression;
import dev.converge.migration.precopy.AutoConverge;
import dev.converge.migration.precopy.ConvergencePolicy;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * The migration parameters of one daemon: QEMU 10.0's MigrationParameters, every member, as one
 * immutable value. The defaults are declared here once ({@link #DEFAULTS}, QEMU's values); every
 * change, from migrate-set-parameters or from job-change on the migration job, goes through
 * {@link #merge}, which checks the merged set with QEMU's rules and texts (migrate_params_check).
 * {@link MigrationSettings} holds the current value in one atomic reference, so a running
 * migration reads a consistent set after every pass.
 *
 * <p>Sizes and bandwidths are QEMU's unsigned 64-bit values held in a {@code long}: a negative
 * long is a value of 2^63 or more (QMP's {@code -1} is the largest value, as QEMU reads it).
 *
 * <p>What converge acts on, and what it only keeps and reports, is said per member in the QMP
 * reference (docs/qmp.md, type MigrationParameters); the members that configure a feature
 * converge does not implement (xbzrle, COLO, postcopy before the postcopy capability, dirty
 * bitmap migration) are accepted so that management software can set what it always sets.
 *
 * @param announce                 announce-*: self-announce timing (converge has no network devices)
 * @param throttle                 auto-converge's cpu-throttle-* and throttle-trigger-threshold
 * @param tls                      tls-creds, tls-hostname, tls-authz ("" = none)
 * @param maxBandwidth             bytes per second the migration may use, 0 = unlimited (the job's speed)
 * @param availSwitchoverBandwidth bytes per second for the switchover estimate, 0 = use the measured bandwidth
 * @param downtimeLimitMs          longest the vCPUs may be stopped for the switchover, ms
 * @param checkpointDelayMs        x-checkpoint-delay: COLO's checkpoint period, ms (kept and reported)
 * @param multifd                  multifd-channels, multifd-compression and the compression levels
 * @param xbzrleCacheSize          xbzrle-cache-size, bytes (kept and reported)
 * @param maxPostcopyBandwidth     bytes per second during postcopy, 0 = unlimited
 * @param blockBitmapMapping       block-bitmap-mapping, absent until set (kept and reported)
 * @param dirtyLimitPeriodMs       x-vcpu-dirty-limit-period, ms (kept and reported)
 * @param vcpuDirtyLimit           dirty-limit's cap, MB/s per vCPU
 * @param mode                     mode: normal (the others are refused by migrate)
 * @param zeroPageDetection        zero-page-detection
 * @param directIo                 direct-io: O_DIRECT for mapped-ram files
 */
public record MigrationParameters(Announce announce, Throttle throttle, Tls tls, long maxBandwidth,
        long availSwitchoverBandwidth, long downtimeLimitMs, long checkpointDelayMs, Multifd multifd,
        long xbzrleCacheSize, long maxPostcopyBandwidth, Optional<List<BitmapNodeAlias>> blockBitmapMapping,
        long dirtyLimitPeriodMs, long vcpuDirtyLimit, MigrationMode mode, ZeroPageDetection zeroPageDetection,
        boolean directIo) {
    /** QEMU's default downtime-limit in ms. */
    public static final long DEFAULT_DOWNTIME_LIMIT_MS = 300;
    /** QEMU's MAX_MIGRATE_DOWNTIME in ms (2000 s). */
    public static final long MAX_DOWNTIME_LIMIT_MS = 2_000_000;
    /** QEMU's default max-bandwidth (MAX_THROTTLE): 128 MiB/s. */
    public static final long DEFAULT_MAX_BANDWIDTH = 128L << 20;
    /** QEMU's default vcpu-dirty-limit, MB/s per vCPU. */
    public static final long DEFAULT_VCPU_DIRTY_LIMIT = 1;
    /** QEMU's default x-vcpu-dirty-limit-period, ms. */
    public static final long DEFAULT_DIRTY_LIMIT_PERIOD_MS = 1000;
    /** QEMU's default x-checkpoint-delay, ms. */
    public static final long DEFAULT_CHECKPOINT_DELAY_MS = 20_000;
    /** QEMU's default xbzrle-cache-size: 64 MiB. */
    public static final long DEFAULT_XBZRLE_CACHE_SIZE = 64L << 20;
    /** The page size xbzrle-cache-size must be a power of two of at least. */
    static final long TARGET_PAGE_SIZE = 4096;

    /** QEMU's defaults. */
    public static final MigrationParameters DEFAULTS = new MigrationParameters(Announce.DEFAULTS, Throttle.DEFAULTS,
            Tls.NONE, DEFAULT_MAX_BANDWIDTH, 0, DEFAULT_DOWNTIME_LIMIT_MS, DEFAULT_CHECKPOINT_DELAY_MS,
            Multifd.DEFAULTS, DEFAULT_XBZRLE_CACHE_SIZE, 0, Optional.empty(), DEFAULT_DIRTY_LIMIT_PERIOD_MS,
            DEFAULT_VCPU_DIRTY_LIMIT, MigrationMode.NORMAL, ZeroPageDetection.MULTIFD, false);

    public MigrationParameters {
        Objects.requireNonNull(announce);
        Objects.requireNonNull(throttle);
        Objects.requireNonNull(tls);
        Objects.requireNonNull(multifd);
        Objects.requireNonNull(blockBitmapMapping);
        Objects.requireNonNull(mode);
        Objects.requireNonNull(zeroPageDetection);
    }

    /**
     * announce-initial, -max, -rounds, -step (QEMU 4.0): the timing of the self-announce packets
     * after a migration. Kept and reported: converge's machine has no network devices to announce.
     */
    public record Announce(long initialMs, long maxMs, long rounds, long stepMs) {
        /** QEMU's defaults (migration.c's properties). */
        public static final Announce DEFAULTS = new Announce(50, 550, 5, 100);
    }

    /**
     * Auto-converge's parameters as given (checked by {@link #problem()}, so they may be out of
     * range inside a change until it is refused).
     */
    public record Throttle(long initial, long increment, boolean tailslow, long max, long triggerThreshold) {
        public static final Throttle DEFAULTS = of(AutoConverge.Params.DEFAULTS);

        static Throttle of(AutoConverge.Params p) {
            return new Throttle(p.initial(), p.increment(), p.tailslow(), p.max(), p.triggerThreshold());
        }

        public Throttle withInitial(long v) {
            return new Throttle(v, increment, tailslow, max, triggerThreshold);
        }

        public Throttle withIncrement(long v) {
            return new Throttle(initial, v, tailslow, max, triggerThreshold);
        }

        public Throttle withTailslow(boolean v) {
            return new Throttle(initial, increment, v, max, triggerThreshold);
        }

        public Throttle withMax(long v) {
            return new Throttle(initial, increment, tailslow, v, triggerThreshold);
        }

        public Throttle withTriggerThreshold(long v) {
            return new Throttle(initial, increment, tailslow, max, v);
        }
    }

    /**
     * TLS of the migration channels. An empty string means none, as libvirt sends it
     * ({@code "tls-creds": ""} = plain text).
     *
     * @param creds    id of a tls-creds-x509 object; "" = no TLS
     * @param hostname the name the destination's certificate must carry; "" = the URI's host
     * @param authz    id of an authz object checking the client's certificate (destination); "" = none
     */
    public record Tls(String creds, String hostname, String authz) {
        public static final Tls NONE = new Tls("", "", "");

        public Tls {
            Objects.requireNonNull(creds);
            Objects.requireNonNull(hostname);
            Objects.requireNonNull(authz);
        }

        /** Whether TLS is on (tls-creds names an object). */
        public boolean enabled() {
            return !creds.isEmpty();
        }

        public Tls withCreds(String v) {
            return new Tls(v, hostname, authz);
        }

        public Tls withHostname(String v) {
            return new Tls(creds, v, authz);
        }

        public Tls withAuthz(String v) {
            return new Tls(creds, hostname, v);
        }
    }

    /**
     * The multifd parameters (used when the capability multifd is on).
     *
     * @param channels    multifd-channels, 1..255
     * @param compression multifd-compression
     * @param zlibLevel   multifd-zlib-level, 0..9
     * @param zstdLevel   multifd-zstd-level, 0..20
     * @param qatzipLevel multifd-qatzip-level, 1..9 (QEMU 9.2; kept and reported: no qatzip here)
     */
    public record Multifd(long channels, MultifdCompression compression, long zlibLevel, long zstdLevel,
            long qatzipLevel) {
        /** QEMU's defaults: 2 channels, no compression, levels 1. */
        public static final Multifd DEFAULTS = new Multifd(2, MultifdCompression.NONE, 1, 1, 1);

        public Multifd {
            Objects.requireNonNull(compression);
        }

        public Multifd withChannels(long v) {
            return new Multifd(v, compression, zlibLevel, zstdLevel, qatzipLevel);
        }

        public Multifd withCompression(MultifdCompression v) {
            return new Multifd(channels, v, zlibLevel, zstdLevel, qatzipLevel);
        }

        public Multifd withZlibLevel(long v) {
            return new Multifd(channels, compression, v, zstdLevel, qatzipLevel);
        }

        public Multifd withZstdLevel(long v) {
            return new Multifd(channels, compression, zlibLevel, v, qatzipLevel);
        }

        public Multifd withQatzipLevel(long v) {
            return new Multifd(channels, compression, zlibLevel, zstdLevel, v);
        }
    }

    /**
     * One change of the parameters: a function of the current set (each given member replaced),
     * and whether it sets max-bandwidth (which then becomes a running job's speed).
     */
    public record Update(UnaryOperator<MigrationParameters> change, boolean setsMaxBandwidth) {
        /** The change that changes nothing. */
        public static final Update NONE = new Update(p -> p, false);

        public Update {
            Objects.requireNonNull(change);
        }

        /** This change, then {@code next}. */
        public Update then(UnaryOperator<MigrationParameters> next) {
            return new Update(p -> next.apply(change.apply(p)), setsMaxBandwidth);
        }

        /** This change, then max-bandwidth set to {@code bytesPerSecond}. */
        public Update thenMaxBandwidth(long bytesPerSecond) {
            return new Update(p -> change.apply(p).withMaxBandwidth(bytesPerSecond), true);
        }

        /** A change of downtime-limit and max-bandwidth only (job-change); null: unchanged. */
        public static Update ofJobChange(Long downtimeLimit, Long maxBandwidth) {
            Update u = downtimeLimit == null ? NONE : NONE.then(p -> p.withDowntimeLimitMs(downtimeLimit));
            return maxBandwidth == null ? u : u.thenMaxBandwidth(maxBandwidth);
        }
    }

    /** A change refused by {@link #merge}; the message is QEMU's text. */
    public static final class InvalidParameter extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        public InvalidParameter(String message) {
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
        MigrationParameters next = u.change().apply(this);
        String error = next.problem();
        if (error != null) {
            throw new InvalidParameter(error);
        }
        return next;
    }

    /** The first problem {@link #merge} would refuse {@code u} for, or null when it is valid. */
    public String check(Update u) {
        return u.change().apply(this).problem();
    }

    /**
     * The first problem of this set in the order of QEMU's migrate_params_check, with its text,
     * or null when the set is valid.
     */
    public String problem() {
        Throttle t = throttle;
        if (t.triggerThreshold() < 1 || t.triggerThreshold() > 100) {
            return invalid("throttle_trigger_threshold", "an integer in the range of 1 to 100");
        }
        if (t.initial() < 1 || t.initial() > 99) {
            return invalid("cpu_throttle_initial", "an integer in the range of 1 to 99");
        }
        if (t.increment() < 1 || t.increment() > 99) {
            return invalid("cpu_throttle_increment", "an integer in the range of 1 to 99");
        }
        // max_bandwidth and avail_switchover_bandwidth: QEMU refuses values above SIZE_MAX, which
        // a 64-bit size cannot exceed.
        if (Long.compareUnsigned(downtimeLimitMs, MAX_DOWNTIME_LIMIT_MS) > 0) {
            return invalid("downtime_limit", "an integer in the range of 0 to " + MAX_DOWNTIME_LIMIT_MS + " ms");
        }
        if (multifd.channels() < 1 || multifd.channels() > 255) {
            return invalid("multifd_channels", "a value between 1 and 255");
        }
        if (multifd.zlibLevel() < 0 || multifd.zlibLevel() > 9) {
            return invalid("multifd_zlib_level", "a value between 0 and 9");
        }
        if (multifd.qatzipLevel() < 1 || multifd.qatzipLevel() > 9) {
            return invalid("multifd_qatzip_level", "a value between 1 and 9");
        }
        if (multifd.zstdLevel() < 0 || multifd.zstdLevel() > 20) {
            return invalid("multifd_zstd_level", "a value between 0 and 20");
        }
        if (Long.compareUnsigned(xbzrleCacheSize, TARGET_PAGE_SIZE) < 0 || Long.bitCount(xbzrleCacheSize) != 1) {
            return invalid("xbzrle_cache_size", "a power of two no less than the target page size");
        }
        if (t.max() < t.initial() || t.max() > 99) {
            return invalid("max_cpu_throttle", "an integer in the range of cpu_throttle_initial to 99");
        }
        if (Long.compareUnsigned(announce.initialMs(), 100_000) > 0) {
            return invalid("announce_initial", "a value between 0 and 100000");
        }
        if (Long.compareUnsigned(announce.maxMs(), 100_000) > 0) {
            return invalid("announce_max", "a value between 0 and 100000");
        }
        if (Long.compareUnsigned(announce.rounds(), 1000) > 0) {
            return invalid("announce_rounds", "a value between 0 and 1000");
        }
        if (announce.stepMs() < 1 || Long.compareUnsigned(announce.stepMs(), 10_000) > 0) {
            // QEMU's text says 0 although it refuses 0
            return invalid("announce_step", "a value between 0 and 10000");
        }
        String mapping = blockBitmapMapping.map(BitmapNodeAlias::problem).orElse(null);
        if (mapping != null) {
            return "Invalid mapping given for block-bitmap-mapping: " + mapping;
        }
        if (Long.compareUnsigned(dirtyLimitPeriodMs - 1, 1000) >= 0) {
            return invalid("x-vcpu-dirty-limit-period", "a value between 1 and 1000");
        }
        if (vcpuDirtyLimit == 0) {
            return "Parameter 'vcpu_dirty_limit' must be greater than 1 MB/s";
        }
        return null;
    }

    /** auto-converge's parameters (valid once this set passed {@link #problem()}). */
    public AutoConverge.Params autoConverge() {
        return new AutoConverge.Params((int) throttle.initial(), (int) throttle.increment(), throttle.tailslow(),
                (int) throttle.max(), (int) throttle.triggerThreshold());
    }

    /** The convergence policy these parameters make: downtime-limit and avail-switchover-bandwidth. */
    public ConvergencePolicy policy() {
        // an unsigned value past Long.MAX_VALUE is a bandwidth no link reaches: the largest
        long avail = availSwitchoverBandwidth < 0 ? Long.MAX_VALUE : availSwitchoverBandwidth;
        return new ConvergencePolicy(Duration.ofMillis(downtimeLimitMs), avail);
    }

    /**
     * max-bandwidth as the job engine's speed: 0 (unlimited) for 0 and for the values past
     * Long.MAX_VALUE that QEMU takes (-1 on the wire is the largest).
     */
    public long jobSpeed() {
        return maxBandwidth < 0 ? 0 : maxBandwidth;
    }

    public MigrationParameters withAnnounce(Announce v) {
        return new MigrationParameters(v, throttle, tls, maxBandwidth, availSwitchoverBandwidth, downtimeLimitMs,
                checkpointDelayMs, multifd, xbzrleCacheSize, maxPostcopyBandwidth, blockBitmapMapping,
                dirtyLimitPeriodMs, vcpuDirtyLimit, mode, zeroPageDetection, directIo);
    }

    public MigrationParameters withThrottle(Throttle v) {
        return new MigrationParameters(announce, v, tls, maxBandwidth, availSwitchoverBandwidth, downtimeLimitMs,
                checkpointDelayMs, multifd, xbzrleCacheSize, maxPostcopyBandwidth, blockBitmapMapping,
                dirtyLimitPeriodMs, vcpuDirtyLimit, mode, zeroPageDetection, directIo);
    }

    public MigrationParameters withTls(Tls v) {
        return new MigrationParameters(announce, throttle, v, maxBandwidth, availSwitchoverBandwidth, downtimeLimitMs,
                checkpointDelayMs, multifd, xbzrleCacheSize, maxPostcopyBandwidth, blockBitmapMapping,
                dirtyLimitPeriodMs, vcpuDirtyLimit, mode, zeroPageDetection, directIo);
    }

    public MigrationParameters withMaxBandwidth(long v) {
        return new MigrationParameters(announce, throttle, tls, v, availSwitchoverBandwidth, downtimeLimitMs,
                checkpointDelayMs, multifd, xbzrleCacheSize, maxPostcopyBandwidth, blockBitmapMapping,
                dirtyLimitPeriodMs, vcpuDirtyLimit, mode, zeroPageDetection, directIo);
    }

    public MigrationParameters withAvailSwitchoverBandwidth(long v) {
        return new MigrationParameters(announce, throttle, tls, maxBandwidth, v, downtimeLimitMs,
                checkpointDelayMs, multifd, xbzrleCacheSize, maxPostcopyBandwidth, blockBitmapMapping,
                dirtyLimitPeriodMs, vcpuDirtyLimit, mode, zeroPageDetection, directIo);
    }

    public MigrationParameters withDowntimeLimitMs(long v) {
        return new MigrationParameters(announce, throttle, tls, maxBandwidth, availSwitchoverBandwidth, v,
                checkpointDelayMs, multifd, xbzrleCacheSize, maxPostcopyBandwidth, blockBitmapMapping,
                dirtyLimitPeriodMs, vcpuDirtyLimit, mode, zeroPageDetection, directIo);
    }

    public MigrationParameters withCheckpointDelayMs(long v) {
        return new MigrationParameters(announce, throttle, tls, maxBandwidth, availSwitchoverBandwidth, downtimeLimitMs,
                v, multifd, xbzrleCacheSize, maxPostcopyBandwidth, blockBitmapMapping,
                dirtyLimitPeriodMs, vcpuDirtyLimit, mode, zeroPageDetection, directIo);
    }

    public MigrationParameters withMultifd(Multifd v) {
        return new MigrationParameters(announce, throttle, tls, maxBandwidth, availSwitchoverBandwidth, downtimeLimitMs,
                checkpointDelayMs, v, xbzrleCacheSize, maxPostcopyBandwidth, blockBitmapMapping,
                dirtyLimitPeriodMs, vcpuDirtyLimit, mode, zeroPageDetection, directIo);
    }

    public MigrationParameters withXbzrleCacheSize(long v) {
        return new MigrationParameters(announce, throttle, tls, maxBandwidth, availSwitchoverBandwidth, downtimeLimitMs,
                checkpointDelayMs, multifd, v, maxPostcopyBandwidth, blockBitmapMapping,
                dirtyLimitPeriodMs, vcpuDirtyLimit, mode, zeroPageDetection, directIo);
    }

    public MigrationParameters withMaxPostcopyBandwidth(long v) {
        return new MigrationParameters(announce, throttle, tls, maxBandwidth, availSwitchoverBandwidth, downtimeLimitMs,
                checkpointDelayMs, multifd, xbzrleCacheSize, v, blockBitmapMapping,
                dirtyLimitPeriodMs, vcpuDirtyLimit, mode, zeroPageDetection, directIo);
    }

    public MigrationParameters withBlockBitmapMapping(List<BitmapNodeAlias> v) {
        return new MigrationParameters(announce, throttle, tls, maxBandwidth, availSwitchoverBandwidth, downtimeLimitMs,
                checkpointDelayMs, multifd, xbzrleCacheSize, maxPostcopyBandwidth, Optional.of(List.copyOf(v)),
                dirtyLimitPeriodMs, vcpuDirtyLimit, mode, zeroPageDetection, directIo);
    }

    public MigrationParameters withDirtyLimitPeriodMs(long v) {
        return new MigrationParameters(announce, throttle, tls, maxBandwidth, availSwitchoverBandwidth, downtimeLimitMs,
                checkpointDelayMs, multifd, xbzrleCacheSize, maxPostcopyBandwidth, blockBitmapMapping,
                v, vcpuDirtyLimit, mode, zeroPageDetection, directIo);
    }

    public MigrationParameters withVcpuDirtyLimit(long v) {
        return new MigrationParameters(announce, throttle, tls, maxBandwidth, availSwitchoverBandwidth, downtimeLimitMs,
                checkpointDelayMs, multifd, xbzrleCacheSize, maxPostcopyBandwidth, blockBitmapMapping,
                dirtyLimitPeriodMs, v, mode, zeroPageDetection, directIo);
    }

    public MigrationParameters withMode(MigrationMode v) {
        return new MigrationParameters(announce, throttle, tls, maxBandwidth, availSwitchoverBandwidth, downtimeLimitMs,
                checkpointDelayMs, multifd, xbzrleCacheSize, maxPostcopyBandwidth, blockBitmapMapping,
                dirtyLimitPeriodMs, vcpuDirtyLimit, v, zeroPageDetection, directIo);
    }

    public MigrationParameters withZeroPageDetection(ZeroPageDetection v) {
        return new MigrationParameters(announce, throttle, tls, maxBandwidth, availSwitchoverBandwidth, downtimeLimitMs,
                checkpointDelayMs, multifd, xbzrleCacheSize, maxPostcopyBandwidth, blockBitmapMapping,
                dirtyLimitPeriodMs, vcpuDirtyLimit, mode, v, directIo);
    }

    public MigrationParameters withDirectIo(boolean v) {
        return new MigrationParameters(announce, throttle, tls, maxBandwidth, availSwitchoverBandwidth, downtimeLimitMs,
                checkpointDelayMs, multifd, xbzrleCacheSize, maxPostcopyBandwidth, blockBitmapMapping,
                dirtyLimitPeriodMs, vcpuDirtyLimit, mode, zeroPageDetection, v);
    }

    private static String invalid(String name, String expects) {
        return "Parameter '" + name + "' expects " + expects;
    }
}
