package dev.converge.bench.migration;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Live-migration benchmark: migrates a guest of {@code --memory} bytes over loopback, for each
 * workload and downtime limit, between two converged daemons and between two QEMUs in the same
 * run, with the same QMP sequence ({@link MigrationRun}), and prints total time, downtime, RAM
 * sent, throughput and passes per side and converge's total time ÷ QEMU's.
 * <p>
 * Usage: {@code ./bin/bench migration [--memory 2G] [--workloads idle,pattern] [--downtimes 300,50]
 * [--sides converge,qemu] [--accel auto|kvm|tcg] [--timeout SECONDS] [--verify-cost yes|no] [--dirty-rate SIZE]}
 * ({@code --dirty-rate}: converge's pattern guest dirties that many bytes a second, e.g. 640M, instead of
 * as fast as it can; QEMU's guest cannot be paced, so use it with {@code --sides converge}); with
 * {@code --verify-cost yes} (the default) converge runs each plain scenario once more with
 * {@code x-converge-verify} off, so the table shows what the verified stream costs. A side that cannot run (QEMU
 * not installed, converged without migration yet) is reported as unavailable and the other still runs.
 * Every process started is killed when the run ends, by the launchers' close and, on an abrupt
 * exit, by a shutdown hook ({@link ProcessReaper}).
 */
public final class MigrationBench {
    /** Bound on a daemon's or QEMU's start until its QMP socket answers. */
    private static final Duration CONNECT_DEADLINE = Duration.ofSeconds(60);
    /** Bound on each step around a migration: the guest's first pass, events, checks. */
    private static final Duration STEP_DEADLINE = Duration.ofMinutes(3);

    private MigrationBench() {
    }

    public static void main(String[] args) throws IOException {
        BenchOptions options;
        try {
            options = BenchOptions.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("MigrationBench: " + e.getMessage());
            System.exit(2);
            return;
        }
        ProcessReaper reaper = ProcessReaper.installed();
        QemuGuest.Accel accel = options.accel().orElseGet(QemuGuest.Accel::detect);
        Path dir = Files.createTempDirectory("converge-migration-bench");
        List<ReportTable.Row> rows = new ArrayList<>();
        try {
            rows = runAll(options, accel, dir, reaper);
        } finally {
            reaper.killAll();
            deleteTree(dir);
        }
        String header = String.format("migration over loopback: %d MiB guest, 1 vCPU, max-bandwidth unlimited; QEMU: %s -accel %s;"
                + " %d CPUs", options.memory() >> 20, QemuGuest.BINARY, accel.option(), Runtime.getRuntime().availableProcessors())
                + (options.dirtyRate() > 0 ? String.format("; converge's pattern guest paced at %d MB/s (--dirty-rate)",
                        options.dirtyRate() / 1_000_000) : "");
        System.out.println();
        System.out.print(ReportTable.format(header, rows));
    }

    static List<ReportTable.Row> runAll(BenchOptions options, QemuGuest.Accel accel, Path dir, ProcessReaper reaper) {
        List<ReportTable.Row> rows = new ArrayList<>();
        MigrationRun run = new MigrationRun(STEP_DEADLINE);
        // Once a side turns out unavailable it stays so for the whole run: say it once, do not retry.
        Map<String, Outcome.Unavailable> unavailable = new LinkedHashMap<>();
        for (Workload w : options.workloads()) {
            for (long downtime : options.downtimes()) {
                Scenario scenario = new Scenario(w, options.memory(), downtime, options.maxTime());
                if (options.dirtyRate() > 0 && w == Workload.PATTERN) {
                    scenario = scenario.withDirtyRate(options.dirtyRate());
                }
                boolean pattern = w == Workload.PATTERN;
                if (!pattern || options.aids().contains(ConvergenceAid.NONE)) {
                    Map<String, Outcome> bySide = runSides(options, scenario, run, accel, dir, reaper, unavailable, "");
                    rows.add(new ReportTable.Row(w, downtime, bySide));
                    if (options.verifyCost() && options.sides().contains(ReportTable.OURS)) {
                        // What verification costs: converge once more with x-converge-verify off, in the same run.
                        String variant = " (x-converge-verify off)";
                        Map<String, Outcome> m = new LinkedHashMap<>();
                        m.put(ReportTable.OURS, runLogged(ReportTable.OURS, scenario.withVerify(false), run, accel, dir, reaper,
                                variant));
                        if (bySide.containsKey(ReportTable.PEER)) {
                            m.put(ReportTable.PEER, bySide.get(ReportTable.PEER));
                        }
                        rows.add(new ReportTable.Row(w, downtime, m, variant));
                    }
                    // Like with like: QEMU's guest dirties memory at the pace of a write-protect fault per
                    // page per pass; run converge once more with the dirty rate QEMU reported (also when
                    // QEMU did not converge: the rate is what it showed while active).
                    long qemuRate = run.lastQemuDirtyRate;
                    if (pattern && options.rateMatch() && options.sides().contains(ReportTable.OURS) && qemuRate > 0) {
                        String variant = String.format(java.util.Locale.ROOT, " (rate-matched %d MB/s)", qemuRate / 1_000_000);
                        Outcome o = runLogged(ReportTable.OURS, scenario.withDirtyRate(qemuRate), run, accel, dir, reaper, variant);
                        Map<String, Outcome> m = new LinkedHashMap<>();
                        m.put(ReportTable.OURS, o);
                        m.put(ReportTable.PEER, bySide.get(ReportTable.PEER));
                        rows.add(new ReportTable.Row(w, downtime, m, variant));
                    }
                }
                if (pattern) {
                    // Both guests as fast as they go, each helped by the same capability (default parameters).
                    for (ConvergenceAid aid : options.aids()) {
                        if (aid != ConvergenceAid.NONE) {
                            String variant = " (" + aid.wireName() + ")";
                            rows.add(new ReportTable.Row(w, downtime, runSides(options, scenario.withAid(aid), run, accel, dir,
                                    reaper, unavailable, variant), variant));
                        }
                    }
                }
            }
        }
        return rows;
    }

    /** Runs {@code scenario} on every side asked for; a side found unavailable once is not retried. */
    private static Map<String, Outcome> runSides(BenchOptions options, Scenario scenario, MigrationRun run,
            QemuGuest.Accel accel, Path dir, ProcessReaper reaper, Map<String, Outcome.Unavailable> unavailable, String variant) {
        Map<String, Outcome> bySide = new LinkedHashMap<>();
        for (String side : options.sides()) {
            Outcome o;
            if (unavailable.containsKey(side)) {
                o = new Outcome.Unavailable("not retried, see the first " + side + " run: " + unavailable.get(side).reason());
            } else {
                o = runLogged(side, scenario, run, accel, dir, reaper, variant);
                if (side.equals(ReportTable.PEER)) {
                    run.lastQemuDirtyRate = run.lastDirtyRate();
                }
                // A side without the capability of this scenario may still run the others.
                if (o instanceof Outcome.Unavailable u && scenario.aid() == ConvergenceAid.NONE) {
                    unavailable.put(side, u);
                }
            }
            bySide.put(side, o);
        }
        return bySide;
    }

    private static Outcome runLogged(String side, Scenario scenario, MigrationRun run, QemuGuest.Accel accel, Path dir,
            ProcessReaper reaper, String variant) {
        String what = String.format(java.util.Locale.ROOT, "[%s %s%s %d ms]", side, scenario.workload().wireName(), variant,
                scenario.downtimeMs());
        System.err.println(what + " migrating...");
        Outcome o = runOne(side, scenario, run, accel, dir.resolve("run" + RUN_NUMBER.getAndIncrement()), reaper);
        System.err.println(what + " " + o.summary());
        return o;
    }

    private static final java.util.concurrent.atomic.AtomicInteger RUN_NUMBER = new java.util.concurrent.atomic.AtomicInteger();

    private static Outcome runOne(String side, Scenario scenario, MigrationRun run, QemuGuest.Accel accel, Path dir,
            ProcessReaper reaper) {
        return run.runStarted(side, () -> {
            Files.createDirectories(dir);
            return side.equals(ReportTable.OURS) ? ConvergePair.start(dir, scenario, reaper, CONNECT_DEADLINE)
                    : QemuPair.start(dir, scenario, accel, reaper, CONNECT_DEADLINE);
        }, scenario);
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("MigrationBench: could not remove " + dir + ": " + e.getMessage());
        }
    }
}
