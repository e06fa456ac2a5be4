package dev.converge.bench.migration;

import dev.converge.bench.Sizes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The benchmark's command line:
 * {@code [--memory 2G] [--workloads idle,pattern] [--downtimes 300,50] [--sides converge,qemu]
 * [--accel auto|kvm|tcg] [--timeout SECONDS] [--aids none,auto-converge,dirty-limit] [--rate-match yes|no]
 * [--verify-cost yes|no] [--dirty-rate SIZE]}.
 *
 * @param memory     guest RAM in bytes; a suffix K, M, G, T, none meaning MiB (as QEMU's {@code -m})
 * @param workloads  workloads to run, in order
 * @param downtimes  downtime limits in ms, in order
 * @param sides      which sides run: "converge", "qemu" or both
 * @param accel      QEMU's accelerator; empty means KVM when /dev/kvm opens, else TCG
 * @param maxTime    how long one migration may take before it is cancelled as not converging
 * @param aids       how pattern runs: plainly ("none"), and with each capability that helps a fast guest converge
 *                   (both sides, default parameters); all three by default
 * @param rateMatch  whether converge runs pattern once more paced at the dirty rate QEMU's guest showed
 * @param verifyCost whether converge runs each plain scenario once more with x-converge-verify off
 * @param dirtyRate  bytes per second converge's pattern guest dirties ({@code --dirty-rate}, its machine option
 *                   {@code dirty-rate}), 0 for as fast as it can; QEMU's guest always runs as fast as it can
 */
public record BenchOptions(long memory, List<Workload> workloads, List<Long> downtimes, Set<String> sides,
        Optional<QemuGuest.Accel> accel, Duration maxTime, List<ConvergenceAid> aids, boolean rateMatch,
        boolean verifyCost, long dirtyRate) {
    /** Side names accepted by {@code --sides}. */
    public static final Set<String> SIDES = Set.of("converge", "qemu");

    static final String USAGE = "usage: MigrationBench [--memory 2G] [--workloads idle,pattern] [--downtimes 300,50]"
            + " [--sides converge,qemu] [--accel auto|kvm|tcg] [--timeout SECONDS] [--aids none,auto-converge,dirty-limit]"
            + " [--rate-match yes|no] [--verify-cost yes|no] [--dirty-rate SIZE]";

    /** The defaults the issue asks for: 2 GiB, idle and pattern, 300 and 50 ms, both sides. */
    public static BenchOptions defaults() {
        return new BenchOptions(2L << 30, List.of(Workload.IDLE, Workload.PATTERN), List.of(300L, 50L),
                new LinkedHashSet<>(List.of("converge", "qemu")), Optional.empty(), Duration.ofSeconds(120), List.of(ConvergenceAid.values()), true, true, 0);
    }

    /**
     * Parses {@code args}.
     *
     * @throws IllegalArgumentException naming the bad option or value
     */
    public static BenchOptions parse(String... args) {
        BenchOptions o = defaults();
        long memory = o.memory;
        List<Workload> workloads = o.workloads;
        List<Long> downtimes = o.downtimes;
        Set<String> sides = o.sides;
        Optional<QemuGuest.Accel> accel = o.accel;
        Duration maxTime = o.maxTime;
        List<ConvergenceAid> aids = o.aids;
        boolean rateMatch = o.rateMatch;
        boolean verifyCost = o.verifyCost;
        long dirtyRate = o.dirtyRate;
        for (int i = 0; i < args.length; i++) {
            String opt = args[i];
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(opt + ": missing value (" + USAGE + ")");
            }
            String v = args[++i];
            switch (opt) {
                case "--memory" -> memory = Sizes.parseMiB("--memory", v);
                case "--workloads" -> workloads = list(v).stream().map(Workload::parse).toList();
                case "--downtimes" -> downtimes = list(v).stream().map(d -> positive("--downtimes", d)).toList();
                case "--sides" -> {
                    sides = new LinkedHashSet<>();
                    for (String s : list(v)) {
                        if (!SIDES.contains(s)) {
                            throw new IllegalArgumentException("--sides: '" + s + "' (expected: converge, qemu)");
                        }
                        sides.add(s);
                    }
                }
                case "--accel" -> accel = switch (v) {
                    case "auto" -> Optional.empty();
                    case "kvm" -> Optional.of(QemuGuest.Accel.KVM);
                    case "tcg" -> Optional.of(QemuGuest.Accel.TCG);
                    default -> throw new IllegalArgumentException("--accel: '" + v + "' (expected: auto, kvm, tcg)");
                };
                case "--timeout" -> maxTime = Duration.ofSeconds(positive("--timeout", v));
                case "--aids" -> aids = list(v).stream().map(ConvergenceAid::parse).distinct().toList();
                case "--rate-match" -> rateMatch = switch (v) {
                    case "yes" -> true;
                    case "no" -> false;
                    default -> throw new IllegalArgumentException("--rate-match: '" + v + "' (expected: yes, no)");
                };
                case "--verify-cost" -> verifyCost = switch (v) {
                    case "yes" -> true;
                    case "no" -> false;
                    default -> throw new IllegalArgumentException("--verify-cost: '" + v + "' (expected: yes, no)");
                };
                case "--dirty-rate" -> dirtyRate = Sizes.parseMiB("--dirty-rate", v);
                default -> throw new IllegalArgumentException("unknown option '" + opt + "' (" + USAGE + ")");
            }
        }
        if (memory % GuestImage.PAGE_SIZE != 0 || memory <= GuestImage.PATTERN_START || memory > GuestImage.MAX_RAM_END) {
            throw new IllegalArgumentException("--memory: " + memory + " bytes (expected: whole pages, above 1M, at most 3584M)");
        }
        return new BenchOptions(memory, workloads, downtimes, sides, accel, maxTime, aids, rateMatch, verifyCost, dirtyRate);
    }

    private static List<String> list(String v) {
        List<String> out = new ArrayList<>();
        for (String s : v.split(",", -1)) {
            if (s.isBlank()) {
                throw new IllegalArgumentException("empty item in list '" + v + "'");
            }
            out.add(s.strip());
        }
        return out;
    }

    private static long positive(String opt, String v) {
        try {
            long n = Long.parseLong(v);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(opt + ": '" + v + "' (expected: a positive integer)");
    }
}
