package dev.converge.bench.nbd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.bench.Daemons;
import dev.converge.daemon.launch.ChildDaemon;
import dev.converge.qmp.client.QmpClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Our NBD client against QEMU's: a full mirror from a local file into a qemu-nbd export, done by
 * converged and by qemu-storage-daemon with the same QMP, runs alternating:
 * <pre>
 * blockdev-add {driver: file, node-name: src-file, filename: SRC}; {driver: raw, node-name: src, file: src-file}
 * blockdev-add {driver: nbd, node-name: tgt, server: {type: unix, path: SOCK}, export: disk}
 * blockdev-mirror {job-id: m0, device: src, target: tgt, sync: full}
 *   ... BLOCK_JOB_READY                     (time: reply of blockdev-mirror → arrival of this event)
 * block-job-cancel {device: m0} ... BLOCK_JOB_COMPLETED (after READY: target in sync, no pivot)
 * blockdev-del tgt, src, src-file
 * stop qemu-nbd; compare the target with the source byte for byte
 * </pre>
 * Each run gets a fresh qemu-nbd (writeback cache) on a fresh, empty target file; the daemons are
 * started once and kept (converged keeps its warmed-up JIT), and each does one uncounted warm-up run. The source is random data, so nothing
 * can be skipped as zero.
 * <p>
 * Usage: {@code NbdMirrorBench [size-MiB (default 1024)] [runs (default 3)] [work-dir (default a temp dir)]}
 */
public final class NbdMirrorBench {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration START = Duration.ofSeconds(60);
    private static final Duration CONTROL = Duration.ofSeconds(60);
    private static final Duration READY = Duration.ofMinutes(10);
    private static final String JOB = "m0";

    private NbdMirrorBench() {
    }

    public static void main(String[] args) throws Exception {
        long sizeMiB = args.length > 0 ? Long.parseLong(args[0]) : 1024;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path work = args.length > 2 ? Files.createDirectories(Path.of(args[2]))
                : Files.createTempDirectory("nbd-mirror-bench");
        long size = sizeMiB << 20;
        for (String tool : List.of("qemu-nbd", "qemu-storage-daemon", "cmp")) {
            if (!Daemons.onPath(tool)) {
                System.err.println(tool + " is not installed: cannot run the NBD mirror benchmark");
                System.exit(2);
            }
        }
        Path source = work.resolve("source.raw");
        Path target = work.resolve("target.raw");
        System.out.printf("NBD mirror benchmark: %d MiB file → qemu-nbd export, %d runs each, in %s%n", sizeMiB, runs,
                work);
        NbdBench.writeRandom(source, size);
        System.out.println("load before: " + NbdBench.loadAverage());
        Map<String, List<Double>> seconds = new LinkedHashMap<>();
        Map<String, ChildDaemon> daemons = new LinkedHashMap<>();
        Map<String, QmpClient> clients = new LinkedHashMap<>();
        Map<String, Map<String, Long>> arrivals = new LinkedHashMap<>();
        try {
            daemons.put("converged", Daemons.converged(Files.createDirectories(work.resolve("converged"))));
            daemons.put("qsd", Daemons.qemuStorageDaemon(Files.createDirectories(work.resolve("qsd"))));
            for (Map.Entry<String, ChildDaemon> d : daemons.entrySet()) {
                QmpClient qmp = d.getValue().connect(START);
                Map<String, Long> at = new ConcurrentHashMap<>(); // written by the client's reader thread
                qmp.addEventListener(e -> at.put(e.path("event").asText(), System.nanoTime()));
                clients.put(d.getKey(), qmp);
                arrivals.put(d.getKey(), at);
            }
            // one uncounted run each first: converged's JIT warms up (a daemon runs long), and both
            // sides see the source in the page cache
            for (String side : daemons.keySet()) {
                double s = run(clients.get(side), arrivals.get(side), work, source, target, size);
                System.out.printf("  %-9s warm-up: ready after %7.2f s, %8.1f MB/s (not counted)%n", side, s,
                        size / s / 1e6);
            }
            for (int i = 1; i <= runs; i++) {
                for (String side : daemons.keySet()) {
                    double s = run(clients.get(side), arrivals.get(side), work, source, target, size);
                    System.out.printf("  %-9s run %d: ready after %7.2f s, %8.1f MB/s%n", side, i, s, size / s / 1e6);
                    seconds.computeIfAbsent(side, x -> new ArrayList<>()).add(s);
                }
            }
        } finally {
            for (QmpClient c : clients.values()) {
                c.close();
            }
            for (ChildDaemon d : daemons.values()) {
                d.close();
            }
            Files.deleteIfExists(target);
        }
        System.out.println("load after: " + NbdBench.loadAverage());
        System.out.println();
        System.out.printf("%-10s %14s %14s %12s %12s%n", "daemon", "ready best s", "ready median", "MB/s best",
                "MB/s median");
        seconds.forEach((side, v) -> {
            List<Double> rates = v.stream().map(s -> size / s / 1e6).toList();
            System.out.printf("%-10s %14.2f %14.2f %12.1f %12.1f%n", side,
                    v.stream().mapToDouble(Double::doubleValue).min().orElseThrow(), NbdBench.median(v), NbdBench.best(rates), NbdBench.median(rates));
        });
        List<Double> ours = seconds.get("converged").stream().map(s -> size / s).toList();
        List<Double> theirs = seconds.get("qsd").stream().map(s -> size / s).toList();
        System.out.printf("ratio converged/qsd throughput: best %.2f, median %.2f%n",
                NbdBench.best(ours) / NbdBench.best(theirs), NbdBench.median(ours) / NbdBench.median(theirs));
    }

    /** One mirror on one daemon into a fresh qemu-nbd; returns seconds from blockdev-mirror to READY. */
    private static double run(QmpClient qmp, Map<String, Long> arrivals, Path work, Path source, Path target, long size)
            throws IOException, InterruptedException {
        Files.deleteIfExists(target);
        try (var ch = java.nio.channels.FileChannel.open(target, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(size); // grow: truncate only shrinks
            ch.write(java.nio.ByteBuffer.allocate(1), size - 1);
        }
        Path sock = work.resolve("qemu-nbd.sock");
        Files.deleteIfExists(sock);
        Process nbd = new ProcessBuilder("qemu-nbd", "-k", sock.toString(), "-f", "raw", "-t", "-x", "disk",
                "--cache=writeback", target.toString()).redirectErrorStream(true)
                .redirectOutput(work.resolve("qemu-nbd.log").toFile()).start();
        double secs;
        try {
            NbdBench.waitFor(sock, nbd, "qemu-nbd");
            qmp.drainEvents();
            arrivals.clear();
            qmp.execute("blockdev-add", obj().put("driver", "file").put("node-name", "src-file")
                    .put("filename", source.toString()));
            qmp.execute("blockdev-add", obj().put("driver", "raw").put("node-name", "src").put("file", "src-file"));
            qmp.execute("blockdev-add", obj().put("driver", "nbd").put("node-name", "tgt").put("export", "disk")
                    .set("server", obj().put("type", "unix").put("path", sock.toString())));
            try {
                qmp.execute("blockdev-mirror", obj().put("job-id", JOB).put("device", "src").put("target", "tgt")
                        .put("sync", "full"));
                long replied = System.nanoTime();
                JsonNode first = qmp.awaitEvent(e -> JOB.equals(e.path("data").path("device").asText())
                        && List.of("BLOCK_JOB_READY", "BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED")
                        .contains(e.path("event").asText()), READY);
                if (!first.path("event").asText().equals("BLOCK_JOB_READY")) {
                    throw new IOException("mirror ended before READY: " + first);
                }
                secs = (arrivals.getOrDefault("BLOCK_JOB_READY", System.nanoTime()) - replied) / 1e9;
                qmp.execute("block-job-cancel", obj().put("device", JOB));
                JsonNode done = qmp.awaitEvent(e -> JOB.equals(e.path("data").path("device").asText())
                        && List.of("BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED").contains(e.path("event").asText()),
                        CONTROL);
                if (done.path("data").has("error") || !done.path("event").asText().equals("BLOCK_JOB_COMPLETED")) {
                    throw new IOException("cancel after READY did not complete cleanly: " + done);
                }
            } finally {
                for (String node : List.of("tgt", "src", "src-file")) {
                    qmp.execute("blockdev-del", obj().put("node-name", node));
                }
            }
        } finally {
            nbd.destroy();
            nbd.waitFor(10, TimeUnit.SECONDS);
        }
        Process cmp = new ProcessBuilder("cmp", source.toString(), target.toString()).redirectErrorStream(true).start();
        String out = new String(cmp.getInputStream().readAllBytes());
        if (cmp.waitFor() != 0) {
            throw new IOException("target differs from source: " + out);
        }
        return secs;
    }

    private static ObjectNode obj() {
        return JSON.createObjectNode();
    }
}
