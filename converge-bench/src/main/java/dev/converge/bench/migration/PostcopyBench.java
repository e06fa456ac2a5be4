package dev.converge.bench.migration;

import dev.converge.bench.Sizes;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.client.QmpCommandException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Postcopy benchmark: a guest whose working set is rewritten faster than the link (max-bandwidth
 * {@code --link}) never converges at a 50 ms downtime limit; after its first pass over RAM the
 * source switches to postcopy ({@code migrate-start-postcopy}), the destination runs at once and
 * fetches what it lacks. The same QMP sequence on two converged daemons and on two QEMUs, in the
 * same run: total time, the time the guest is stopped (QEMU's {@code downtime}: source stop to
 * destination running), pages requested, and the page-request latency (converge: p50/p99 of its
 * own {@code x-postcopy-latency-*}; QEMU 7.2 reports none, only {@code postcopy-blocktime}).
 * When QEMU cannot do postcopy here (no userfaultfd) it runs precopy with auto-converge instead,
 * and the report says so. {@code --preempt} runs each side without, with (capability
 * {@code postcopy-preempt} on both sides: requested pages on a channel of their own), or both
 * ways (the default), so that the effect on the page-request latency shows in one run. Both sides'
 * destinations have {@code postcopy-blocktime} on: its {@code postcopy-blocktime} (ms during
 * which every vCPU waited at once) is the one figure QEMU 7.2 and converge both report.
 * <p>
 * Usage: {@code ./bin/bench postcopy [--memory 2G] [--link 256M] [--sides converge,qemu] [--preempt off|on|both]
 * [--accel auto|kvm|tcg]}
 */
public final class PostcopyBench {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
    private static final Duration CONNECT_DEADLINE = Duration.ofSeconds(60);
    private static final Duration STEP = Duration.ofMinutes(3);
    private static final long DOWNTIME_LIMIT_MS = 50;

    private PostcopyBench() {
    }

    /** One side's figures. */
    record Figures(String mode, long totalMs, long downtimeMs, long requests, long p50Us, long p99Us, long blocktimeMs,
            String note) {
        static Figures failed(String mode, String why) {
            return new Figures(mode + " failed", -1, -1, -1, -1, -1, -1, why);
        }

        String row(String side) {
            return String.format(Locale.ROOT, "%-9s %-30s %9d %11d %9d %9s %9s %10s  %s", side, mode, totalMs, downtimeMs,
                    requests, p50Us < 0 ? "n/a" : String.valueOf(p50Us), p99Us < 0 ? "n/a" : String.valueOf(p99Us),
                    blocktimeMs < 0 ? "n/a" : String.valueOf(blocktimeMs), note);
        }
    }

    public static void main(String[] args) throws IOException {
        long memory = 2L << 30;
        long link = 256L << 20;
        String sides = "converge,qemu";
        String accelName = "auto";
        String preempt = "both";
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--memory" -> memory = Sizes.parseMiB("--memory", args[i + 1]);
                case "--link" -> link = Sizes.parseMiB("--link", args[i + 1]);
                case "--sides" -> sides = args[i + 1];
                case "--accel" -> accelName = args[i + 1];
                case "--preempt" -> preempt = args[i + 1];
                default -> usage();
            }
        }
        java.util.List<Boolean> preempts = switch (preempt) {
            case "off" -> java.util.List.of(false);
            case "on" -> java.util.List.of(true);
            case "both" -> java.util.List.of(false, true);
            default -> {
                usage();
                yield java.util.List.of();
            }
        };
        ProcessReaper reaper = ProcessReaper.installed();
        QemuGuest.Accel accel = accelName.equals("auto") ? QemuGuest.Accel.detect() : QemuGuest.Accel.valueOf(accelName.toUpperCase(Locale.ROOT));
        Scenario scenario = new Scenario(Workload.PATTERN, memory, DOWNTIME_LIMIT_MS, STEP);
        Path dir = Files.createTempDirectory("cv-postcopy"); // short: UNIX socket paths below it are limited
        StringBuilder report = new StringBuilder(String.format(Locale.ROOT, "postcopy after the first pass: %d MiB pattern "
                + "guest (rewrites all its RAM as fast as it runs), max-bandwidth %d MiB/s, downtime-limit %d ms; QEMU: %s "
                + "-accel %s; load %s%n%-9s %-30s %9s %11s %9s %9s %9s %10s%n", memory >> 20, link >> 20, DOWNTIME_LIMIT_MS,
                QemuGuest.BINARY, accel.option(), load(), "side", "mode", "total ms", "stopped ms", "requests", "p50 us",
                "p99 us", "blocktime"));
        java.util.Map<Boolean, Figures> ours = new java.util.HashMap<>();
        java.util.Map<Boolean, Figures> peer = new java.util.HashMap<>();
        try {
            for (boolean withPreempt : preempts) {
                for (String side : sides.split(",")) {
                    Path d = Files.createDirectories(dir.resolve(side + (withPreempt ? "-p" : "")));
                    System.err.println("[" + side + (withPreempt ? ", preempt" : "") + "] migrating...");
                    Figures f;
                    try (GuestPair pair = side.equals(ReportTable.OURS) ? ConvergePair.start(d, scenario, reaper, CONNECT_DEADLINE)
                            : QemuPair.start(d, scenario, accel, reaper, CONNECT_DEADLINE)) {
                        f = run(pair, link, side.equals(ReportTable.PEER), withPreempt);
                    } catch (SideUnavailableException | IOException | RuntimeException e) {
                        f = Figures.failed(withPreempt ? "postcopy + preempt" : "postcopy", e.getMessage());
                    }
                    System.err.println("[" + side + "] " + f);
                    report.append(f.row(side)).append('\n');
                    (side.equals(ReportTable.OURS) ? ours : peer).put(withPreempt, f);
                }
            }
        } finally {
            reaper.killAll();
            try (java.util.stream.Stream<Path> paths = Files.walk(dir)) {
                paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        for (boolean withPreempt : preempts) {
            Figures o = ours.get(withPreempt);
            Figures p = peer.get(withPreempt);
            if (o != null && p != null && o.totalMs() > 0 && p.totalMs() > 0) {
                report.append(String.format(Locale.ROOT, "converge ÷ QEMU%s: total time %.2f, guest stopped %.2f%n",
                        withPreempt ? " (preempt)" : "", o.totalMs() / (double) p.totalMs(),
                        o.downtimeMs() / (double) Math.max(1, p.downtimeMs())));
            }
        }
        Figures off = ours.get(false);
        Figures on = ours.get(true);
        if (off != null && on != null && off.p99Us() > 0 && on.p99Us() > 0) {
            report.append(String.format(Locale.ROOT, "converge preempt ÷ without: page-request latency p50 %.2f, p99 %.2f%n",
                    on.p50Us() / (double) Math.max(1, off.p50Us()), on.p99Us() / (double) off.p99Us()));
        }
        System.out.println();
        System.out.print(report);
    }

    private static void usage() {
        System.err.println("usage: PostcopyBench [--memory 2G] [--link 256M] [--sides converge,qemu] [--preempt off|on|both] "
                + "[--accel auto|kvm|tcg]");
        System.exit(2);
    }

    /** One migration on {@code pair}: precopy until the first pass ended, then postcopy. */
    static Figures run(GuestPair pair, long link, boolean qemu, boolean preempt) {
        QmpClient src = pair.source();
        QmpClient dst = pair.destination();
        String steady = pair.awaitWorkloadRunning(STEP);
        String uri = "tcp:127.0.0.1:" + MigrationRun.freeLoopbackPort();
        boolean postcopy = true;
        try {
            dst.execute("migrate-set-capabilities", MigrationRun.capabilities("events", "postcopy-ram"));
            src.execute("migrate-set-capabilities", MigrationRun.capabilities("events", "postcopy-ram"));
        } catch (QmpCommandException e) {
            postcopy = false; // QEMU without userfaultfd: precopy with auto-converge instead
            src.execute("migrate-set-capabilities", MigrationRun.capabilities("events", "auto-converge"));
            dst.execute("migrate-set-capabilities", MigrationRun.capabilities("events"));
            steady += "; postcopy refused (" + e.desc() + ")";
        }
        if (postcopy && preempt) {
            // Refused (an old QEMU): the run fails by name rather than measure postcopy without it.
            dst.execute("migrate-set-capabilities", MigrationRun.capabilities("postcopy-preempt"));
            src.execute("migrate-set-capabilities", MigrationRun.capabilities("postcopy-preempt"));
        }
        if (postcopy) {
            try {
                dst.execute("migrate-set-capabilities", MigrationRun.capabilities("postcopy-blocktime"));
            } catch (QmpCommandException e) {
                // blocktime is optional
            }
        }
        dst.execute("migrate-incoming", JSON.objectNode().put("uri", uri));
        src.execute("migrate-set-parameters", JSON.objectNode().put("downtime-limit", DOWNTIME_LIMIT_MS)
                .put("max-bandwidth", link));
        src.drainEvents();
        src.execute("migrate", JSON.objectNode().put("uri", uri));
        if (postcopy) {
            // converge counts passes done; QEMU counts dirty-log syncs, the second of which ends the first pass.
            long firstPassDone = qemu ? 2 : 1;
            long end = System.nanoTime() + STEP.toNanos();
            while (src.execute("query-migrate").path("ram").path("dirty-sync-count").asLong(0) < firstPassDone) {
                if (System.nanoTime() > end) {
                    throw new CheckFailedException("no first pass within " + STEP);
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
            }
            src.execute("migrate-start-postcopy");
        }
        JsonNode e = src.awaitEvent(ev -> "MIGRATION".equals(ev.path("event").asText())
                && java.util.Set.of("completed", "failed", "cancelled").contains(ev.path("data").path("status").asText()), STEP);
        String status = e.path("data").path("status").asText();
        JsonNode info = awaitFigures(src);
        String mode = postcopy ? (preempt ? "postcopy + preempt" : "postcopy") + " after pass 1" : "precopy + auto-converge";
        if (!status.equals("completed")) {
            return Figures.failed(mode + " " + status, info.path("error-desc").asText());
        }
        dst.awaitEvent(ev -> "MIGRATION".equals(ev.path("event").asText())
                && ev.path("data").path("status").asText().equals("completed"), STEP);
        JsonNode in = dst.execute("query-migrate");
        String runs = pair.checkDestinationRuns(STEP);
        long p50 = in.has("x-postcopy-latency-p50") ? in.get("x-postcopy-latency-p50").asLong() / 1000 : -1;
        long p99 = in.has("x-postcopy-latency-p99") ? in.get("x-postcopy-latency-p99").asLong() / 1000 : -1;
        long blocktime = in.has("postcopy-blocktime") ? in.get("postcopy-blocktime").asLong() : -1;
        String note = steady + "; " + runs + (in.has("x-postcopy-preempt-pages") ? "; " + in.get("x-postcopy-preempt-pages")
                + " pages on the preempt channel" : "");
        return new Figures(mode, info.path("total-time").asLong(), info.path("downtime").asLong(),
                info.path("ram").path("postcopy-requests").asLong(0), p50, p99, blocktime, note);
    }

    /** query-migrate once the source reports its times (QEMU fills them just after the completed event). */
    private static JsonNode awaitFigures(QmpClient src) {
        long end = System.nanoTime() + STEP.toNanos();
        while (true) {
            JsonNode info = src.execute("query-migrate");
            if (!info.path("status").asText().equals("completed") || info.path("total-time").asLong(0) > 0
                    || System.nanoTime() > end) {
                return info;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
    }

    private static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }
}
