package dev.converge.bench.file;

import dev.converge.bench.Sizes;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.bench.Daemons;
import dev.converge.bench.migration.ProcessReaper;
import dev.converge.bench.migration.QemuGuest;
import dev.converge.bench.migration.QemuPair;
import dev.converge.bench.migration.Scenario;
import dev.converge.bench.migration.Workload;
import dev.converge.daemon.launch.ChildDaemon;
import dev.converge.qmp.client.QmpClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code ./bin/bench file-migration [--memory 2G] [--dir DIR] [--fill-seconds S]}: save a stopped
 * machine whose every page holds data into a file and restore it into a second process, converge
 * (file: with mapped-ram, and without) against QEMU in the same run; and converge's live save of the
 * same machine still running (mapped-ram: passes while the pattern guest writes, the guest stopped
 * only for the last; the note shows how long and how many passes). Debian's QEMU 7.2 has neither
 * {@code file:} (QEMU 8.2) nor mapped-ram (QEMU 9.0), so its side is {@code exec:cat > FILE} and
 * {@code exec:cat FILE}, the way a file migration was done before 8.2; both sides use unlimited
 * bandwidth. Prints save and restore time, apparent and allocated file size, and the ratios.
 * Each file is deleted once measured; on a machine whose disk is shared, a {@code --dir} on tmpfs
 * (/dev/shm) measures the migration code instead of the kernel's writeback of other tenants' data.
 */
public final class FileMigrationBench {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration LONG = Duration.ofMinutes(5);

    /** One side's figures. */
    record Result(String side, double saveSeconds, double restoreSeconds, long apparentBytes, long allocatedBytes,
            long pagesWithData, String note) {
    }

    private FileMigrationBench() {
    }

    public static void main(String[] argv) throws Exception {
        long memory = 2L << 30;
        Path dir = null;
        int fillSeconds = 3;
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--memory" -> memory = Sizes.parse("--memory", argv[++i]);
                case "--dir" -> dir = Path.of(argv[++i]);
                case "--fill-seconds" -> fillSeconds = Integer.parseInt(argv[++i]);
                default -> throw new IllegalArgumentException("unknown option " + argv[i]
                        + " (expected: --memory SIZE, --dir DIR, --fill-seconds S)");
            }
        }
        Path work = dir == null ? Files.createTempDirectory("file-migration-bench") : Files.createDirectories(dir);
        System.out.printf(Locale.ROOT, "file migration: %d MiB of guest RAM, every page written, then stop; load %s%n",
                memory >> 20, load());
        List<Result> results = new ArrayList<>();
        results.add(converge(work, memory, true, fillSeconds, false));
        results.add(converge(work, memory, false, fillSeconds, false));
        results.add(converge(work, memory, true, fillSeconds, true));
        if (Daemons.onPath(QemuGuest.BINARY)) {
            results.add(qemu(work, memory));
        } else {
            System.out.println("qemu: skipped (" + QemuGuest.BINARY + " is not installed)");
        }
        System.out.printf(Locale.ROOT, "%-34s %9s %11s %12s %12s %10s  %s%n", "side", "save s", "restore s",
                "file MiB", "on disk MiB", "data pages", "note");
        for (Result r : results) {
            System.out.printf(Locale.ROOT, "%-34s %9.2f %11.2f %12d %12d %10d  %s%n", r.side(), r.saveSeconds(),
                    r.restoreSeconds(), r.apparentBytes() >> 20, r.allocatedBytes() >> 20, r.pagesWithData(), r.note());
        }
        if (results.size() == 4) {
            Result q = results.get(3);
            for (Result c : results.subList(0, 3)) {
                System.out.printf(Locale.ROOT, "ratio qemu/converge (%s): save %.2f, restore %.2f%n", c.side(),
                        q.saveSeconds() / c.saveSeconds(), q.restoreSeconds() / c.restoreSeconds());
            }
        }
        System.out.printf(Locale.ROOT, "load after: %s%n", load());
        if (dir == null) {
            try (var files = Files.list(work)) {
                for (Path p : files.toList()) {
                    deleteTree(p);
                }
            }
            Files.deleteIfExists(work);
        }
    }

    /**
     * @param live save the machine running (mapped-ram: passes while it runs, stopped for the last), not stopped first
     */
    private static Result converge(Path work, long memory, boolean mappedRam, int fillSeconds, boolean live)
            throws Exception {
        String side = (mappedRam ? "converge file: mapped-ram" : "converge file:") + (live ? ", running" : "");
        String spec = "memory=" + (memory >> 20) + "M,vcpus=2,workload=pattern";
        Path file = work.resolve(mappedRam ? "converge-mapped.state" : "converge.state");
        Files.deleteIfExists(file);
        double save;
        long dataPages;
        String note;
        try (ChildDaemon src = Daemons.converged(Files.createDirectories(work.resolve("converge-src")), "--machine", spec);
                QmpClient q = src.connect(Duration.ofSeconds(60))) {
            Thread.sleep(fillSeconds * 1000L); // the pattern workload sweeps all RAM meanwhile
            if (!live) {
                q.execute("stop");
            }
            capabilities(q, mappedRam ? List.of("events", "mapped-ram") : List.of("events"));
            q.execute("migrate-set-parameters", obj().put("max-bandwidth", 0));
            long t0 = System.nanoTime();
            q.execute("migrate", obj().put("uri", "file:" + file));
            awaitMigration(q, "completed");
            save = (System.nanoTime() - t0) / 1e9;
            JsonNode info = q.execute("query-migrate");
            dataPages = info.path("ram").path("normal").asLong();
            note = live ? "guest stopped " + info.path("downtime").asLong() + " ms, " + info.path("ram")
                    .path("dirty-sync-count").asLong() + " passes" : "stopped before the save";
        }
        double restore;
        try (ChildDaemon dst = Daemons.converged(Files.createDirectories(work.resolve("converge-dst")), "--machine", spec,
                "--incoming", "defer");
                QmpClient q = dst.connect(Duration.ofSeconds(60))) {
            capabilities(q, List.of("events"));
            long t0 = System.nanoTime();
            q.execute("migrate-incoming", obj().put("uri", "file:" + file));
            awaitMigration(q, "completed");
            restore = (System.nanoTime() - t0) / 1e9;
        }
        Result r = new Result(side, save, restore, Files.size(file), allocated(file), dataPages, note);
        Files.delete(file); // a tmpfs --dir holds one file at a time
        return r;
    }

    private static Result qemu(Path work, long memory) throws Exception {
        Path file = work.resolve("qemu.state");
        Files.deleteIfExists(file);
        QemuGuest.Accel accel = QemuGuest.Accel.detect();
        Scenario scenario = new Scenario(Workload.PATTERN, memory, 300, LONG);
        double save;
        double restore;
        long dataPages;
        try (QemuPair pair = QemuPair.start(Files.createDirectories(work.resolve("qemu")), scenario, accel,
                ProcessReaper.installed(), Duration.ofSeconds(60))) {
            // the guest's second pass reached the probe page: the first wrote every page
            System.out.println("qemu: " + pair.awaitWorkloadRunning(LONG));
            QmpClient src = pair.source();
            src.execute("stop");
            capabilities(src, List.of("events"));
            src.execute("migrate-set-parameters", obj().put("max-bandwidth", Scenario.UNLIMITED_BANDWIDTH));
            long t0 = System.nanoTime();
            src.execute("migrate", obj().put("uri", "exec:cat > " + file));
            awaitMigration(src, "completed");
            save = (System.nanoTime() - t0) / 1e9;
            dataPages = src.execute("query-migrate").path("ram").path("normal").asLong();
            QmpClient dst = pair.destination();
            capabilities(dst, List.of("events"));
            t0 = System.nanoTime();
            dst.execute("migrate-incoming", obj().put("uri", "exec:cat " + file));
            awaitMigration(dst, "completed");
            restore = (System.nanoTime() - t0) / 1e9;
        }
        Result r = new Result("qemu 7.2 exec:cat (" + accel.option() + ")", save, restore, Files.size(file),
                allocated(file), dataPages, "stopped before the save");
        Files.delete(file);
        return r;
    }

    private static void capabilities(QmpClient q, List<String> names) {
        ObjectNode args = obj();
        var list = args.putArray("capabilities");
        names.forEach(n -> list.addObject().put("capability", n).put("state", true));
        q.execute("migrate-set-capabilities", args);
    }

    private static void awaitMigration(QmpClient q, String status) {
        JsonNode e = q.awaitEvent(ev -> "MIGRATION".equals(ev.path("event").asText())
                && List.of(status, "failed").contains(ev.path("data").path("status").asText()), LONG);
        if (!status.equals(e.path("data").path("status").asText())) {
            throw new IllegalStateException("migration failed: " + q.execute("query-migrate").path("error-desc").asText());
        }
    }

    private static long allocated(Path file) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("du", "-B1", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        p.waitFor();
        return Long.parseLong(out.split("\\s+")[0]);
    }

    private static String load() throws IOException {
        return Files.readString(Path.of("/proc/loadavg")).trim() + " (" + Runtime.getRuntime().availableProcessors()
                + " CPUs)";
    }

    private static ObjectNode obj() {
        return JSON.createObjectNode();
    }

    private static void deleteTree(Path p) throws IOException {
        if (Files.isDirectory(p)) {
            try (var s = Files.list(p)) {
                for (Path c : s.toList()) {
                    deleteTree(c);
                }
            }
        }
        Files.deleteIfExists(p);
    }
}
