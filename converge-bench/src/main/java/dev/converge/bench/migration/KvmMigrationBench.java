package dev.converge.bench.migration;

import dev.converge.migration.machine.kvm.KvmGuest;
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
 * [--timeout SECONDS] [--sides converge,qemu]} ({@code --sides converge} measures a change of converge
 * against itself without running QEMU's rows again).
 */
public final class KvmMigrationBench {
    private static final Duration STEP_DEADLINE = Duration.ofMinutes(3);
    private static final Duration CONNECT_DEADLINE = Duration.ofSeconds(60);
    private static final String USAGE = "usage: KvmMigrationBench [--memory 512M,2G] [--downtimes 300,50]"
            + " [--aids none,auto-converge] [--timeout SECONDS] [--sides converge,qemu]";

    private KvmMigrationBench() {
    }

    public static void main(String[] args) throws IOException {
        List<Long> memories = List.of(512L << 20, 2L << 30);
        List<Long> downtimes = List.of(300L, 50L);
        List<ConvergenceAid> aids = List.of(ConvergenceAid.NONE, ConvergenceAid.AUTO_CONVERGE);
        Duration maxTime = Duration.ofSeconds(120);
        List<String> sides = List.of(ReportTable.OURS, ReportTable.PEER);
        try {
            for (int i = 0; i < args.length; i += 2) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(args[i] + ": missing value (" + USAGE + ")");
                }
                String v = args[i + 1];
                switch (args[i]) {
                    case "--memory" -> memories = Stream.of(v.split(",")).map(BenchOptions::parseSize).toList();
                    case "--downtimes" -> downtimes = Stream.of(v.split(",")).map(Long::parseLong).toList();
                    case "--aids" -> aids = Stream.of(v.split(",")).map(ConvergenceAid::parse).toList();
                    case "--timeout" -> maxTime = Duration.ofSeconds(Long.parseLong(v));
                    case "--sides" -> sides = parseSides(v);
                    default -> throw new IllegalArgumentException("unknown option '" + args[i] + "' (" + USAGE + ")");
                }
            }
        } catch (IllegalArgumentException e) {
            System.err.println("KvmMigrationBench: " + e.getMessage());
            System.exit(2);
            return;
        }
        byte[] guest = KvmGuest.pattern().image();
        ProcessReaper reaper = ProcessReaper.installed();
        Path dir = Files.createTempDirectory("converge-kvm-bench");
        MigrationRun run = new MigrationRun(STEP_DEADLINE);
        List<ReportTable.Row> rows = new ArrayList<>();
        List<String> rates = new ArrayList<>();
        int n = 0;
        try {
            for (long memory : memories) {
                for (long downtime : downtimes) {
                    for (ConvergenceAid aid : aids) {
                        Scenario scenario = new Scenario(Workload.PATTERN, memory, downtime, maxTime).withAid(aid);
                        String variant = String.format(Locale.ROOT, " %dM%s", memory >> 20,
                                aid == ConvergenceAid.NONE ? "" : " " + aid.wireName());
                        Map<String, Outcome> bySide = new LinkedHashMap<>();
                        for (String side : sides) {
                            String what = String.format(Locale.ROOT, "[%s pattern%s %d ms]", side, variant, downtime);
                            System.err.println(what + " migrating...");
                            Path runDir = Files.createDirectories(dir.resolve("run" + n++));
                            Outcome o = runOne(side, scenario, guest, run, runDir, reaper);
                            System.err.println(what + " " + o.summary());
                            bySide.put(side, o);
                            rates.add(String.format(Locale.ROOT, "pattern%s %d ms %s: dirty rate seen %.0f MB/s", variant, downtime,
                                    side, run.lastDirtyRate() / 1e6));
                        }
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
                + " 1 vCPU, max-bandwidth unlimited; converge: --machine accel=kvm; QEMU: %s -accel kvm; %d CPUs",
                guest.length, QemuGuest.BINARY, Runtime.getRuntime().availableProcessors());
        System.out.println();
        System.out.print(ReportTable.format(header, rows));
        System.out.println("dirty rate = the last ram.dirty-pages-rate × 4 KiB the source reported while active:");
        rates.forEach(r -> System.out.println("  " + r));
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
