package dev.converge.bench.migration;

import dev.converge.bench.Sizes;
import dev.converge.migration.machine.kvm.KvmGuest;
import dev.converge.migration.machine.kvm.KvmSystem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The same boot-sector guest (converge's pattern guest, {@code pattern-guest.S}) migrated by
 * converge on {@code accel=kvm} and by QEMU {@code -accel kvm}, in the same run, with the same
 * QMP sequence ({@link MigrationRun}): per memory size, downtime limit and convergence aid,
 * total time, downtime, the dirty rate the source reported, and converge ÷ QEMU.
 * <p>
 * {@code ./bin/bench kvm-migration [--memory 512M,2G] [--downtimes 300,50] [--aids none,auto-converge]
 * [--timeout SECONDS] [--sides converge,qemu] [--runs N] [--verify on|off]} ({@code --sides converge}
 * measures a change of converge against itself without running QEMU's rows again; {@code --runs N}
 * runs each row N times, the sides taking turns, and reports the median run, {@link MedianRun};
 * {@code --verify off} turns converge's x-converge-verify off, to see what it costs).
 * {@code -Dconverge.bench.trace=true} prints every 100 ms sample of the source's query-migrate and its
 * guest's serial marks; {@code -Dconverge.bench.daemon-log-level=debug} and
 * {@code -Dconverge.bench.keep-logs=DIR} keep converged's logs (its per-pass estimates).
 */
public final class KvmMigrationBench {
    private static final Duration STEP_DEADLINE = Duration.ofMinutes(3);
    private static final Duration CONNECT_DEADLINE = Duration.ofSeconds(60);
    private static final String USAGE = "usage: KvmMigrationBench [--memory 512M,2G] [--downtimes 300,50]"
            + " [--aids none,auto-converge] [--timeout SECONDS] [--sides converge,qemu] [--runs N] [--verify on|off]";

    private KvmMigrationBench() {
    }

    public static void main(String[] args) throws IOException {
        List<Long> memories = List.of(512L << 20, 2L << 30);
        List<Long> downtimes = List.of(300L, 50L);
        List<ConvergenceAid> aids = List.of(ConvergenceAid.NONE, ConvergenceAid.AUTO_CONVERGE);
        Duration maxTime = Duration.ofSeconds(120);
        List<String> sides = List.of(ReportTable.OURS, ReportTable.PEER);
        int runs = 1;
        boolean verify = true;
        try {
            for (int i = 0; i < args.length; i += 2) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(args[i] + ": missing value (" + USAGE + ")");
                }
                String v = args[i + 1];
                switch (args[i]) {
                    case "--memory" -> memories = Stream.of(v.split(",")).map(m -> Sizes.parseMiB("--memory", m)).toList();
                    case "--downtimes" -> downtimes = Stream.of(v.split(",")).map(Long::parseLong).toList();
                    case "--aids" -> aids = Stream.of(v.split(",")).map(ConvergenceAid::parse).toList();
                    case "--timeout" -> maxTime = Duration.ofSeconds(Long.parseLong(v));
                    case "--sides" -> sides = parseSides(v);
                    case "--runs" -> runs = parseRuns(v);
                    case "--verify" -> verify = parseOnOff(v);
                    default -> throw new IllegalArgumentException("unknown option '" + args[i] + "' (" + USAGE + ")");
                }
            }
        } catch (IllegalArgumentException e) {
            System.err.println("KvmMigrationBench: " + e.getMessage());
            System.exit(2);
            return;
        }
        if (!KvmSystem.available()) {
            // Both sides need it; without it every run would fail the same way, one daemon at a time.
            System.err.println("KvmMigrationBench: " + KvmSystem.DEVICE
                    + " cannot be opened here: both converged accel=kvm and QEMU -accel kvm need it; nothing to measure");
            System.exit(2);
            return;
        }
        byte[] guest = KvmGuest.pattern().image();
        ProcessReaper reaper = ProcessReaper.installed();
        Path dir = Files.createTempDirectory("converge-kvm-bench");
        MigrationRun run = new MigrationRun(STEP_DEADLINE);
        List<ReportTable.Row> rows = new ArrayList<>();
        List<String> rates = new ArrayList<>();
        List<String> spreads = new ArrayList<>();
        int n = 0;
        try {
            for (long memory : memories) {
                for (long downtime : downtimes) {
                    for (ConvergenceAid aid : aids) {
                        Scenario scenario = new Scenario(Workload.PATTERN, memory, downtime, maxTime).withAid(aid).withVerify(verify);
                        String variant = String.format(Locale.ROOT, " %dM%s", memory >> 20,
                                aid == ConvergenceAid.NONE ? "" : " " + aid.wireName());
                        Map<String, List<Outcome>> runsBySide = new LinkedHashMap<>();
                        for (int r = 0; r < runs; r++) {
                            for (String side : sides) { // the sides take turns: a slow minute hits both
                                String what = String.format(Locale.ROOT, "[%s pattern%s %d ms, run %d]", side, variant, downtime, r + 1);
                                System.err.println(what + " migrating...");
                                Path runDir = Files.createDirectories(dir.resolve("run" + n++));
                                Outcome o = runOne(side, scenario, guest, run, runDir, reaper);
                                System.err.println(what + " " + o.summary());
                                runsBySide.computeIfAbsent(side, k -> new ArrayList<>()).add(o);
                                rates.add(String.format(Locale.ROOT, "pattern%s %d ms %s run %d: dirty rate seen %.0f MB/s", variant,
                                        downtime, side, r + 1, run.lastDirtyRate() / 1e6));
                            }
                        }
                        Map<String, Outcome> bySide = new LinkedHashMap<>();
                        runsBySide.forEach((side, outcomes) -> {
                            bySide.put(side, MedianRun.of(outcomes));
                            spreads.add(String.format(Locale.ROOT, "pattern%s %d ms %s: %s", variant, downtime, side,
                                    MedianRun.spread(outcomes)));
                        });
                        rows.add(new ReportTable.Row(Workload.PATTERN, downtime, bySide, variant));
                    }
                }
            }
        } finally {
            reaper.killAll();
            try (Stream<Path> paths = Files.walk(dir)) {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        String header = String.format(Locale.ROOT, "migration over loopback, the same %d-byte boot sector (pattern-guest.S) on both sides,"
                + " 1 vCPU, max-bandwidth unlimited; converge: --machine accel=kvm%s; QEMU: %s -accel kvm; %d CPUs; %s",
                guest.length, verify ? "" : ", x-converge-verify off", QemuGuest.BINARY, Runtime.getRuntime().availableProcessors(),
                runs == 1 ? "single runs" : "median of " + runs + " runs per row, the sides taking turns");
        System.out.println();
        System.out.print(ReportTable.format(header, rows));
        System.out.println("dirty rate = the last ram.dirty-pages-rate × 4 KiB the source reported while active:");
        rates.forEach(r -> System.out.println("  " + r));
        if (runs > 1) {
            System.out.println("runs behind each median:");
            spreads.forEach(r -> System.out.println("  " + r));
        }
    }

    private static int parseRuns(String v) {
        try {
            int n = Integer.parseInt(v);
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // falls through to the error below
        }
        throw new IllegalArgumentException("--runs: '" + v + "' (expected: a whole number, at least 1)");
    }

    private static boolean parseOnOff(String v) {
        return switch (v) {
            case "on" -> true;
            case "off" -> false;
            default -> throw new IllegalArgumentException("--verify: '" + v + "' (expected: on, off)");
        };
    }

    private static List<String> parseSides(String v) {
        List<String> sides = Stream.of(v.split(",")).distinct().toList();
        for (String s : sides) {
            if (!s.equals(ReportTable.OURS) && !s.equals(ReportTable.PEER)) {
                throw new IllegalArgumentException("--sides: '" + s + "' (expected: " + ReportTable.OURS + ", " + ReportTable.PEER + ")");
            }
        }
        return sides;
    }

    private static Outcome runOne(String side, Scenario scenario, byte[] guest, MigrationRun run, Path dir, ProcessReaper reaper) {
        return run.runStarted(side, () -> side.equals(ReportTable.OURS) ? KvmConvergePair.start(dir, scenario, guest, reaper, CONNECT_DEADLINE)
                : QemuPair.start(dir, scenario, QemuGuest.Accel.KVM, reaper, CONNECT_DEADLINE, guest), scenario);
    }
}
