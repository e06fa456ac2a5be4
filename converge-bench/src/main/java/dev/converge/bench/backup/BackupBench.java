package dev.converge.bench.backup;

import dev.converge.bench.Sizes;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.bench.Daemons;
import dev.converge.bench.mirror.FioWriter;
import dev.converge.bench.mirror.WriterLatency;
import dev.converge.daemon.launch.ChildDaemon;
import dev.converge.qmp.client.QmpClient;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * {@code ./bin/bench backup}: blockdev-backup on converged vs qemu-storage-daemon, same script,
 * same run. Per side, on a copy of one random image:
 * <ol>
 * <li>guest write latency without a backup: fio (nbd engine, 4 KiB random writes, iodepth 1,
 *     paced) through a writable NBD export of the source, for a few seconds;</li>
 * <li>full backup (sync=full, bitmap b0 bitmap-mode on-success, so b0 restarts) to a sparse
 *     target: its time and bytes (the job's final offset);</li>
 * <li>10 % of the disk rewritten in random 64 KiB blocks (fio, unpaced);</li>
 * <li>incremental backup (sync=incremental, bitmap b0) to another sparse target: time and bytes;</li>
 * <li>another full backup with the paced fio writing meanwhile: the guest's write latency while
 *     copy-before-write works, and from fio's per-write log (the mirror bench's
 *     {@link WriterLatency}) the longest write and the worst 250 ms window's throughput between
 *     blockdev-backup and BLOCK_JOB_COMPLETED;</li>
 * <li>compress: a full backup with {@code compress: true} of a half-compressible image (the same
 *     file for both sides) into a fresh qcow2 target: its time and the target's size on disk
 *     after blockdev-del, checked against the source with {@code qemu-img compare}.</li>
 * </ol>
 * Prints each side's figures, the ratios converged/QSD, and the machine's load.
 * <pre>
 * ./bin/bench backup [--size 2G] [--dir DIR] [--write-rate 8M] [--baseline-seconds 5]
 * </pre>
 */
public final class BackupBench {
    /** a ÷ b, or "n/a (a vs b)" when b is 0 (no ratio against a stall on both or one side). */
    static String ratioOrNa(double a, double b) {
        return b == 0 ? String.format(Locale.ROOT, "n/a (%.1f vs %.1f MiB/s)", a, b) : String.format(Locale.ROOT, "%.2f", a / b);
    }

    /** How long the guest writer runs before the measured backup starts (the mirror bench's head start). */
    private static final java.time.Duration FIO_HEAD_START = java.time.Duration.ofSeconds(1);

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration TIMEOUT = Duration.ofMinutes(10);

    /** One side's figures. */
    record Result(String side, double fullSeconds, long fullBytes, double incSeconds, long incBytes, Latency idle,
            Latency during, WriterLatency.Stats duringLog, double compressSeconds, long compressedBytes) {
    }

    /** fio's completion latency of the guest's writes, microseconds. */
    record Latency(double p50, double p99, double max, long writes) {
        String text() {
            return String.format(Locale.ROOT, "p50 %.0f µs, p99 %.0f µs, max %.0f µs (%d writes)", p50, p99, max,
                    writes);
        }
    }

    private BackupBench() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = options(args);
        long size = Sizes.parse("--size", o.getOrDefault("size", "2G"));
        long rate = Sizes.parse("--write-rate", o.getOrDefault("write-rate", "8M"));
        int baseline = Integer.parseInt(o.getOrDefault("baseline-seconds", "5"));
        Path dir = o.containsKey("dir") ? Path.of(o.get("dir")) : Files.createTempDirectory("bench-backup");
        Files.createDirectories(dir);
        if (!Daemons.onPath("fio")) {
            System.err.println("fio is not installed: the benchmark needs it");
            System.exit(2);
        }
        Path base = dir.resolve("base.raw");
        randomImage(base, size);
        Path text = dir.resolve("half-compressible.raw");
        halfCompressibleImage(text, size);
        System.out.printf(Locale.ROOT, "backup benchmark: %d MiB random image, guest fio 4k randwrite paced at %d KiB/s%n",
                size >> 20, rate >> 10);
        List<Result> results = new ArrayList<>();
        results.add(runSide("converged", dir, base, text, size, rate, baseline));
        if (Daemons.onPath("qemu-storage-daemon")) {
            results.add(runSide("qemu-storage-daemon", dir, base, text, size, rate, baseline));
        } else {
            System.out.println("qemu-storage-daemon not installed: no peer");
        }
        for (Result r : results) {
            System.out.printf(Locale.ROOT, "%-20s full %.2f s (%d MiB copied), incremental %.2f s (%d MiB copied)%n",
                    r.side(), r.fullSeconds(), r.fullBytes() >> 20, r.incSeconds(), r.incBytes() >> 20);
            System.out.printf(Locale.ROOT, "%-20s guest writes, no backup:     %s%n", "", r.idle().text());
            System.out.printf(Locale.ROOT, "%-20s guest writes, during backup: %s%n", "", r.during().text());
            System.out.printf(Locale.ROOT, "%-20s guest writes, during backup: %s (fio's log)%n", "",
                    r.duringLog().summary());
            System.out.printf(Locale.ROOT, "%-20s compress: full %.2f s, target %d MiB on disk (source %d MiB)%n", "",
                    r.compressSeconds(), r.compressedBytes() >> 20, size >> 20);
        }
        if (results.size() == 2) {
            Result c = results.get(0);
            Result q = results.get(1);
            System.out.printf(Locale.ROOT, "ratio converged/QSD: full time %.2f, incremental time %.2f, "
                    + "bytes full %.2f incremental %.2f, guest write p50 during backup %.2f, p99 %.2f, max %.2f%n",
                    c.fullSeconds() / q.fullSeconds(), c.incSeconds() / q.incSeconds(),
                    (double) c.fullBytes() / q.fullBytes(), (double) c.incBytes() / q.incBytes(),
                    c.during().p50() / q.during().p50(), c.during().p99() / q.during().p99(),
                    c.during().max() / q.during().max());
            System.out.printf(Locale.ROOT, "ratio converged/QSD: longest write during backup %.2f, worst 250 ms window "
                    + "%s (higher is better), compress time %.2f, compressed target size %.2f%n",
                    c.duringLog().longestMs() / q.duringLog().longestMs(),
                    ratioOrNa(c.duringLog().worstWindowMiBs(), q.duringLog().worstWindowMiBs()),
                    c.compressSeconds() / q.compressSeconds(), (double) c.compressedBytes() / q.compressedBytes());
        }
        System.out.println("load: " + Files.readString(Path.of("/proc/loadavg")).trim() + " ("
                + Runtime.getRuntime().availableProcessors() + " CPUs)");
    }

    private static Result runSide(String side, Path dir, Path base, Path text, long size, long rate, int baseline)
            throws Exception {
        Path own = Files.createDirectories(dir.resolve(side));
        Path src = own.resolve("src.raw");
        Files.copy(base, src, StandardCopyOption.REPLACE_EXISTING);
        for (String t : List.of("full.raw", "inc.raw", "lat.raw")) {
            try (var f = new java.io.RandomAccessFile(own.resolve(t).toFile(), "rw")) {
                f.setLength(0);
                f.setLength(size);
            }
        }
        Path compressed = own.resolve("compressed.qcow2");
        Files.deleteIfExists(compressed);
        run("qemu-img", "create", "-q", "-f", "qcow2", compressed.toString(), Long.toString(size));
        Path nbd = own.resolve("nbd.sock");
        Result result;
        try (ChildDaemon d = side.equals("converged") ? Daemons.converged(own) : Daemons.qemuStorageDaemon(own);
                QmpClient q = d.connect(Duration.ofSeconds(60))) {
            for (String n : List.of("src", "full", "inc", "lat")) {
                exec(q, "blockdev-add", "{'driver':'raw','node-name':'" + n + "','file':{'driver':'file','filename':'"
                        + own.resolve(n + ".raw") + "'}}");
            }
            exec(q, "block-dirty-bitmap-add", "{'node':'src','name':'b0'}");
            exec(q, "nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + nbd + "'}}}");
            exec(q, "block-export-add", "{'type':'nbd','id':'guest','name':'guest','node-name':'src','writable':true}");
            String uri = "nbd+unix:///guest?socket=" + nbd;

            Process idleFio = fio(own.resolve("fio-idle.json"), uri, size, rate, baseline);
            Latency idle = fioResult(idleFio, own.resolve("fio-idle.json"), false);

            // the chain: full (restarts b0), 10 % rewritten, incremental; no guest meanwhile, so the
            // incremental copies what the rewrite dirtied on both sides
            long t0 = System.nanoTime();
            exec(q, "blockdev-backup", "{'job-id':'full','device':'src','target':'full','sync':'full','bitmap':'b0',"
                    + "'bitmap-mode':'on-success'}");
            JsonNode full = awaitCompleted(q, "full");
            double fullSeconds = (System.nanoTime() - t0) / 1e9;

            Process rewrite = new ProcessBuilder("fio", "--name=rewrite", "--ioengine=nbd", "--uri=" + uri,
                    "--rw=randwrite", "--bs=64k", "--iodepth=8", "--size=" + size, "--io_size=" + size / 10,
                    "--randrepeat=1", "--output=" + own.resolve("fio-rewrite.txt")).redirectErrorStream(true)
                    .redirectOutput(own.resolve("fio-rewrite.out").toFile()).start();
            if (!rewrite.waitFor(10, TimeUnit.MINUTES) || rewrite.exitValue() != 0) {
                throw new IOException("fio rewrite failed: " + Files.readString(own.resolve("fio-rewrite.out")));
            }
            long t1 = System.nanoTime();
            exec(q, "blockdev-backup", "{'job-id':'inc','device':'src','target':'inc','sync':'incremental',"
                    + "'bitmap':'b0'}");
            JsonNode inc = awaitCompleted(q, "inc");
            double incSeconds = (System.nanoTime() - t1) / 1e9;

            // copy-before-write's cost: the guest writes while another full backup runs
            Path logs = Files.createDirectories(own.resolve("fio-during-log"));
            Process during = fio(own.resolve("fio-during.json"), uri, size, rate, 3600, logs.resolve("guest"));
            // As the mirror bench: the writer runs at its rate before the backup starts. Without the head
            // start the first 250 ms window fell into fio's own start-up, empty on both sides (0 MiB/s at +0 ms).
            java.util.concurrent.locks.LockSupport.parkNanos(FIO_HEAD_START.toNanos());
            if (!during.isAlive()) {
                throw new IOException("fio ended before the backup started: " + Files.readString(own.resolve("fio-during.json.out")));
            }
            long fromMs = System.currentTimeMillis();
            exec(q, "blockdev-backup", "{'job-id':'lat','device':'src','target':'lat','sync':'full'}");
            awaitCompleted(q, "lat");
            long toMs = System.currentTimeMillis();
            Latency lat = fioResult(during, own.resolve("fio-during.json"), true);
            WriterLatency.Stats latLog = WriterLatency.of(FioWriter.readLatencyLogs(logs, "guest",
                    () -> Files.readString(own.resolve("fio-during.json.out"))), fromMs, toMs);
            exec(q, "block-export-del", "{'id':'guest'}");

            // compress: the half-compressible image into a fresh qcow2 target
            exec(q, "blockdev-add", "{'driver':'raw','node-name':'csrc','file':{'driver':'file','filename':'" + text
                    + "'}}");
            exec(q, "blockdev-add", "{'driver':'qcow2','node-name':'ctgt','file':{'driver':'file','filename':'"
                    + compressed + "'}}");
            long t2 = System.nanoTime();
            exec(q, "blockdev-backup", "{'job-id':'cmp','device':'csrc','target':'ctgt','sync':'full',"
                    + "'compress':true}");
            awaitCompleted(q, "cmp");
            double compressSeconds = (System.nanoTime() - t2) / 1e9;
            exec(q, "blockdev-del", "{'node-name':'ctgt'}");
            exec(q, "blockdev-del", "{'node-name':'csrc'}");
            result = new Result(side, fullSeconds, full.path("data").path("offset").asLong(), incSeconds,
                    inc.path("data").path("offset").asLong(), idle, lat, latLog, compressSeconds, 0);
        }
        // the daemon is gone: the image is closed; it must hold the source, compressed
        run("qemu-img", "compare", "-q", "-f", "raw", "-F", "qcow2", text.toString(), compressed.toString());
        String check = run("qemu-img", "check", compressed.toString());
        if (!check.contains("No errors were found") || check.contains("leaked")) {
            throw new IllegalStateException(side + ": qemu-img check of the compressed backup: " + check);
        }
        return new Result(result.side(), result.fullSeconds(), result.fullBytes(), result.incSeconds(),
                result.incBytes(), result.idle(), result.during(), result.duringLog(), result.compressSeconds(),
                Files.size(compressed));
    }

    /** Runs a command that must succeed; its output. */
    private static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
        return out;
    }

    private static JsonNode awaitCompleted(QmpClient q, String id) {
        JsonNode e = q.awaitEvent(ev -> ev.path("event").asText().startsWith("BLOCK_JOB_")
                && !ev.path("event").asText().equals("BLOCK_JOB_PENDING")
                && id.equals(ev.path("data").path("device").asText()), TIMEOUT);
        if (!e.path("event").asText().equals("BLOCK_JOB_COMPLETED") || e.path("data").has("error")) {
            throw new IllegalStateException("backup " + id + " did not complete: " + e);
        }
        return e;
    }

    /** fio paced 4 KiB random writes at iodepth 1 through {@code uri}, for at most {@code seconds}. */
    private static Process fio(Path json, String uri, long size, long rate, int seconds) throws IOException {
        return fio(json, uri, size, rate, seconds, null);
    }

    /** The same, with every write in a latency log {@code LOG_lat.N.log} (Unix times, offsets) when {@code log} is given. */
    private static Process fio(Path json, String uri, long size, long rate, int seconds, Path log) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("fio", "--name=guest", "--ioengine=nbd", "--uri=" + uri,
                "--rw=randwrite", "--bs=4k", "--iodepth=1", "--rate=" + rate, "--size=" + size, "--time_based",
                "--runtime=" + seconds, "--output-format=json", "--output=" + json));
        if (log != null) {
            cmd.addAll(List.of("--write_lat_log=" + log, "--log_unix_epoch=1", "--log_offset=1"));
        }
        return new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(json.resolveSibling(json.getFileName() + ".out").toFile()).start();
    }

    /** Waits for fio (or ends it first, when {@code stop}) and reads its completion latencies. */
    private static Latency fioResult(Process p, Path json, boolean stop) throws Exception {
        if (stop) {
            p.destroy(); // SIGTERM: fio stops its job and writes its report
        }
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("fio did not end");
        }
        String text = Files.readString(json);
        int start = text.indexOf('{');
        JsonNode w = JSON.readTree(text.substring(start)).path("jobs").get(0).path("write");
        JsonNode clat = w.path("clat_ns");
        JsonNode pct = clat.path("percentile");
        return new Latency(pct.path("50.000000").asDouble() / 1000, pct.path("99.000000").asDouble() / 1000,
                clat.path("max").asDouble() / 1000, w.path("total_ios").asLong());
    }

    private static JsonNode exec(QmpClient q, String command, String args) throws IOException {
        return q.execute(command, (ObjectNode) JSON.readTree(args.replace('\'', '"')));
    }

    private static void randomImage(Path p, long size) throws IOException {
        if (Files.exists(p) && Files.size(p) == size) {
            return;
        }
        byte[] buf = new byte[1 << 20];
        Random r = new Random(42);
        try (OutputStream out = Files.newOutputStream(p)) {
            for (long done = 0; done < size; done += buf.length) {
                r.nextBytes(buf);
                out.write(buf, 0, (int) Math.min(buf.length, size - done));
            }
        }
    }

    /**
     * Half of every 64 KiB random, half bytes of a 16-symbol alphabet: about half the image
     * compresses, to about half (a guest disk's mix, roughly).
     */
    private static void halfCompressibleImage(Path p, long size) throws IOException {
        if (Files.exists(p) && Files.size(p) == size) {
            return;
        }
        byte[] buf = new byte[1 << 20];
        Random r = new Random(43);
        try (OutputStream out = Files.newOutputStream(p)) {
            for (long done = 0; done < size; done += buf.length) {
                r.nextBytes(buf);
                for (int c = 0; c < buf.length; c += 65536) {
                    for (int i = c + 32768; i < c + 65536; i++) {
                        buf[i] = (byte) ('a' + (buf[i] & 15));
                    }
                }
                out.write(buf, 0, (int) Math.min(buf.length, size - done));
            }
        }
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> o = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("usage: bench backup [--size 2G] [--dir DIR] [--write-rate 8M] "
                        + "[--baseline-seconds 5]");
            }
            o.put(args[i].substring(2), args[++i]);
        }
        return o;
    }
}
