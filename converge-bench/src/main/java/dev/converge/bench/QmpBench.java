package dev.converge.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.daemon.launch.ChildDaemon;
import dev.converge.qmp.client.QmpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * QMP control-plane benchmark: round trips per second of {@code query-jobs} with 1, 100 and 1,000
 * jobs, and the latency (median, p99) of a trivial command, for converged and for
 * qemu-storage-daemon in the same run, driven by the same client and the same QMP sequence.
 * <p>
 * The jobs are mirrors from a null-co node into another at a speed of 1 KiB/s, so that they stay
 * running while we measure. Usage: {@code ./bin/bench qmp [--seconds S]}.
 */
public final class QmpBench {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int[] JOB_COUNTS = {1, 100, 1000};

    record Result(Map<Integer, Double> queryJobsPerSecond, Stats versionLatency, Map<Integer, Stats> queryJobsLatency) {
    }

    public static void main(String[] args) throws Exception {
        double seconds = args.length >= 2 && args[0].equals("--seconds") ? Double.parseDouble(args[1]) : 2.0;
        Path dir = Files.createTempDirectory("converge-qmp-bench");
        Map<String, Result> results = new LinkedHashMap<>();
        try (ChildDaemon ours = Daemons.converged(dir)) {
            results.put("converged", measure(ours, seconds));
        }
        if (Daemons.onPath("qemu-storage-daemon")) {
            try (ChildDaemon qsd = Daemons.qemuStorageDaemon(dir)) {
                results.put("qemu-storage-daemon", measure(qsd, seconds));
            }
        } else {
            System.out.println("qemu-storage-daemon not found: peer skipped (apt-get install qemu-system-common)");
        }
        report(results);
    }

    static Result measure(ChildDaemon daemon, double seconds) throws Exception {
        System.err.printf("measuring %s (pid %d)...%n", daemon.name(), daemon.pid());
        try (QmpClient c = daemon.connect(Duration.ofSeconds(60))) {
            Map<Integer, Double> rate = new LinkedHashMap<>();
            Map<Integer, Stats> lat = new LinkedHashMap<>();
            // Warm-up: the JIT of converged and the caches of both get the same treatment.
            roundTrips(c, "query-version", seconds);
            Stats version = roundTrips(c, "query-version", seconds);
            int created = 0;
            for (int target : JOB_COUNTS) {
                for (; created < target; created++) {
                    addMirror(c, created);
                }
                int listed = c.execute("query-jobs").size();
                if (listed != target) {
                    throw new IllegalStateException(daemon.name() + " lists " + listed + " jobs, expected " + target);
                }
                roundTrips(c, "query-jobs", seconds / 4);
                Stats s = roundTrips(c, "query-jobs", seconds);
                lat.put(target, s);
                rate.put(target, s.count() / seconds);
            }
            for (int i = 0; i < created; i++) {
                c.execute("job-cancel", JSON.createObjectNode().put("id", "job" + i));
            }
            return new Result(rate, version, lat);
        }
    }

    private static void addMirror(QmpClient c, int i) {
        for (String role : new String[] {"src", "dst"}) {
            ObjectNode node = JSON.createObjectNode().put("driver", "null-co").put("node-name", role + i)
                    .put("size", 1L << 30);
            c.execute("blockdev-add", node);
        }
        ObjectNode mirror = JSON.createObjectNode().put("job-id", "job" + i).put("device", "src" + i)
                .put("target", "dst" + i).put("sync", "full").put("speed", 1024);
        c.execute("blockdev-mirror", mirror);
    }

    /** Sends {@code command} back to back for {@code seconds}; one sample per round trip. */
    private static Stats roundTrips(QmpClient c, String command, double seconds) {
        Stats stats = new Stats(5_000_000);
        long end = System.nanoTime() + (long) (seconds * 1e9);
        long now;
        do {
            long t0 = System.nanoTime();
            JsonNode r = c.execute(command);
            now = System.nanoTime();
            if (r == null) {
                throw new IllegalStateException("no reply");
            }
            stats.add(now - t0);
        } while (now < end);
        return stats;
    }

    private static void report(Map<String, Result> results) {
        List<String> names = new ArrayList<>(results.keySet());
        System.out.println();
        System.out.printf(Locale.ROOT, "%-34s", "metric");
        names.forEach(n -> System.out.printf(Locale.ROOT, "%22s", n));
        System.out.printf(Locale.ROOT, "%12s%n", names.size() == 2 ? "ratio" : "");
        for (int n : JOB_COUNTS) {
            row("query-jobs/s, " + n + " job(s)", names, r -> r.queryJobsPerSecond().get(n), true, results);
            row("query-jobs p50, " + n + " job(s) (µs)", names, r -> r.queryJobsLatency().get(n).quantile(0.5) / 1e3, false, results);
            row("query-jobs p99, " + n + " job(s) (µs)", names, r -> r.queryJobsLatency().get(n).quantile(0.99) / 1e3, false, results);
        }
        row("query-version p50 (µs)", names, r -> r.versionLatency().quantile(0.5) / 1e3, false, results);
        row("query-version p99 (µs)", names, r -> r.versionLatency().quantile(0.99) / 1e3, false, results);
        System.out.println("ratio = converged ÷ peer for rates, peer ÷ converged for latencies: above 1 means converged is better");
    }

    private static void row(String label, List<String> names, java.util.function.ToDoubleFunction<Result> f,
            boolean higherIsBetter, Map<String, Result> results) {
        System.out.printf(Locale.ROOT, "%-34s", label);
        double[] v = new double[names.size()];
        for (int i = 0; i < names.size(); i++) {
            v[i] = f.applyAsDouble(results.get(names.get(i)));
            System.out.printf(Locale.ROOT, "%22.1f", v[i]);
        }
        if (v.length == 2) {
            System.out.printf(Locale.ROOT, "%12.2f", higherIsBetter ? v[0] / v[1] : v[1] / v[0]);
        }
        System.out.println();
    }
}
