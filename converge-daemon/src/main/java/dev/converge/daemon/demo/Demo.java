package dev.converge.daemon.demo;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.qmp.wire.QmpJson;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.daemon.cli.Table;
import dev.converge.daemon.cli.Units;
import dev.converge.daemon.launch.ChildDaemon;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.client.QmpTimeoutException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * {@code converge demo}: a live move of a running machine, memory and disk, between two daemons
 * on this host, as ONE job transaction.
 * <ol>
 * <li>The destination daemon opens an empty disk file, exports it over NBD and waits for the
 *     incoming migration, with {@code -S} so that it stays paused after the switchover and its
 *     state can be compared with the source's.</li>
 * <li>The source daemon runs a machine whose pattern workload writes its memory and its disk,
 *     adds an nbd node for the destination's export, and starts a grouped {@code transaction} of
 *     {@code blockdev-mirror} (disk → nbd node) and {@code migrate} (auto-complete off).</li>
 * <li>When both jobs are ready, {@code job-complete} on the migration is the switchover: vCPUs
 *     stop, the mirror drains, the rest of RAM and the device state go over, and the transaction
 *     commits.</li>
 * <li>The digests of RAM and disk on both sides must be equal; then the destination is resumed
 *     with {@code cont} and runs.</li>
 * </ol>
 * Everything goes through QMP, exactly as management software would drive it.
 */
public final class Demo {

    /** Knobs of the demo. */
    public record Options(long memory, long diskSize, Duration timeout, boolean keep) {
        public static Options defaults() {
            return new Options(256L << 20, 64L << 20, Duration.ofSeconds(50), false);
        }
    }

    private final PrintWriter out;
    private final Options options;
    private final boolean tty;
    /** Where the demo makes its temporary directory. */
    private final Path tmpRoot;

    public Demo(PrintWriter out, Options options, boolean tty) {
        this(out, options, tty, Path.of(System.getProperty("java.io.tmpdir")));
    }

    /** With the temporary directory made under {@code tmpRoot} (tests: one nobody else writes to). */
    Demo(PrintWriter out, Options options, boolean tty, Path tmpRoot) {
        this.out = out;
        this.options = options;
        this.tty = tty;
        this.tmpRoot = tmpRoot;
    }

    /** Runs the demo; returns 0 when the move committed and verified, 1 otherwise. */
    public int run() throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory(tmpRoot, "converge-demo");
        long t0 = System.nanoTime();
        try {
            return runIn(dir, t0);
        } finally {
            if (!options.keep()) {
                deleteTree(dir);
            } else {
                out.println("files kept in " + dir);
            }
        }
    }

    private int runIn(Path dir, long t0) throws IOException, InterruptedException {
        Path srcDisk = dir.resolve("source-disk.raw");
        Path dstDisk = dir.resolve("destination-disk.raw");
        prepareSourceDisk(srcDisk, options.diskSize());
        try (FileChannel ch = FileChannel.open(dstDisk, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.truncate(0);
            ch.write(ByteBuffer.allocate(1), options.diskSize() - 1);
        }
        // The pattern workload increments one byte of every page, pass after pass, and writes its disk;
        // paced so that a 2-core host can both run it and move it.
        String machine = "memory=" + (options.memory() >> 20) + "M,vcpus=2,workload=pattern,dirty-rate=64M,disk=disk0";
        out.printf("converge demo: a %s machine with a %s disk, moved live between two daemons%n",
                Units.bytes(options.memory()), Units.bytes(options.diskSize()));

        try (ChildDaemon dst = ChildDaemon.converged("destination", dir, List.of(
                "--blockdev", fileNode("disk0", dstDisk), "--machine", machine, "--incoming", "defer", "-S"));
                ChildDaemon src = ChildDaemon.converged("source", dir, List.of(
                        "--blockdev", fileNode("disk0", srcDisk), "--machine", machine));
                QmpClient d = dst.connect(Duration.ofSeconds(30));
                QmpClient s = src.connect(Duration.ofSeconds(30))) {
            Path nbd = dir.resolve("nbd.sock");
            Path migration = dir.resolve("migration.sock");
            step("destination: export disk0 over NBD, wait for the incoming migration");
            d.execute("nbd-server-start", obj("{\"addr\": {\"type\": \"unix\", \"data\": {\"path\": \"" + nbd + "\"}}}"));
            d.execute("block-export-add", obj("{\"type\": \"nbd\", \"id\": \"disk0\", \"node-name\": \"disk0\", \"writable\": true}"));
            d.execute("migrate-incoming", obj("{\"uri\": \"unix:" + migration + "\"}"));

            step("source: nbd node for the destination's disk, then ONE grouped transaction: mirror + migrate");
            s.execute("migrate-set-parameters", obj("{\"max-bandwidth\": 0, \"downtime-limit\": 300}"));
            s.execute("blockdev-add", obj("{\"driver\": \"nbd\", \"node-name\": \"remote-disk0\", \"server\": "
                    + "{\"type\": \"unix\", \"path\": \"" + nbd + "\"}, \"export\": \"disk0\"}"));
            JobBoard board = new JobBoard(out, tty);
            s.addEventListener(board::onEvent);
            s.execute("transaction", obj("""
                    {"actions": [
                       {"type": "blockdev-mirror", "data": {"job-id": "mirror-disk0", "device": "disk0",
                                                            "target": "remote-disk0", "sync": "full"}},
                       {"type": "migrate", "data": {"uri": "unix:%s", "job-id": "migration", "auto-complete": false}}],
                     "properties": {"completion-mode": "grouped"}}""".formatted(migration)));
            long deadline = System.nanoTime() + options.timeout().toNanos();
            pollUntil(s, board, board::allReady, deadline, "both jobs ready");

            board.message("- switchover: job-complete on the migration (vCPUs stop, mirror drains, state moves)");
            long switchStart = System.nanoTime();
            s.execute("job-complete", obj("{\"id\": \"migration\"}"));
            pollUntil(s, board, board::allConcluded, deadline, "the transaction to conclude");
            long switchNanos = System.nanoTime() - switchStart;
            if (board.anyAborted()) {
                out.println("the transaction aborted: the source machine runs on, nothing was lost");
                board.rows().forEach(r -> out.println("  " + r.id + ": " + (r.error.isEmpty() ? "aborted" : r.error)));
                return 1;
            }

            JsonNode migrate = s.execute("query-migrate");
            JsonNode srcDigest = s.execute("query-machine-digest");
            JsonNode dstDigest = d.execute("query-machine-digest");
            String srcState = s.execute("query-status").path("status").asText();
            boolean ramEqual = srcDigest.path("ram").equals(dstDigest.path("ram"));
            boolean diskEqual = srcDigest.path("disks").path("disk0").isTextual()
                    && srcDigest.path("disks").path("disk0").equals(dstDigest.path("disks").path("disk0"));
            d.execute("cont");
            String dstState = d.execute("query-status").path("status").asText();

            out.println();
            Table jobs = new Table("JOB", "TYPE", "BYTES", "TO READY", "TOTAL TIME", "THROUGHPUT", "RESULT");
            for (JobBoard.Row r : board.rows()) {
                long total = r.concludedNanos - r.startedNanos;
                jobs.row(r.id, r.type, Units.bytes(r.current), Units.millis(r.readyNanos - r.startedNanos),
                        Units.millis(total), Units.throughput(r.current, total), r.aborted ? "aborted" : "committed");
            }
            out.print(jobs.render());
            out.println();
            Table summary = new Table("CHECK", "RESULT");
            summary.row("switchover (job-complete → committed)", Units.millis(switchNanos));
            summary.row("downtime (query-migrate)", migrate.path("downtime").asLong() + " ms");
            summary.row("RAM digest source = destination", verdict(ramEqual, srcDigest.path("ram").asText()));
            summary.row("disk digest source = destination", verdict(diskEqual, srcDigest.path("disks").path("disk0").asText()));
            summary.row("source run state", srcState);
            summary.row("destination run state after cont", dstState);
            summary.row("wall time", Units.millis(System.nanoTime() - t0));
            out.print(summary.render());
            boolean ok = ramEqual && diskEqual && "postmigrate".equals(srcState) && "running".equals(dstState);
            out.println(ok ? "demo: moved and verified" : "demo: VERIFICATION FAILED");
            out.flush();
            return ok ? 0 : 1;
        }
    }

    private static String verdict(boolean ok, String digest) {
        return (ok ? "equal" : "DIFFERENT") + " (" + (digest.length() > 12 ? digest.substring(0, 12) + "…" : digest) + ")";
    }

    private void step(String what) {
        out.println("- " + what);
        out.flush();
    }

    /** Refreshes the board from query-jobs until {@code done}; events wake it early. */
    private void pollUntil(QmpClient s, JobBoard board, java.util.function.BooleanSupplier done, long deadline, String what)
            throws IOException {
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IOException("timed out waiting for " + what);
            }
            board.onQueryJobs(s.execute("query-jobs"));
            if (board.anyAborted() && what.startsWith("both")) {
                return;
            }
            try {
                s.awaitEvent(e -> done.getAsBoolean(), Duration.ofMillis(tty ? 100 : 500));
            } catch (QmpTimeoutException e) {
                // refresh interval passed without the awaited change
            }
        }
        board.onQueryJobs(s.execute("query-jobs"));
    }

    private static void prepareSourceDisk(Path path, long size) throws IOException {
        // A quarter of the disk holds data before the machine starts; the rest is a hole, which
        // the mirror sends as zeroes without reading it.
        SplittableRandom rnd = new SplittableRandom(42);
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long off = 0; off < size / 4; off += buf.capacity()) {
                buf.clear();
                while (buf.remaining() >= 8) {
                    buf.putLong(rnd.nextLong());
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    ch.write(buf, off + buf.position());
                }
            }
            ch.write(ByteBuffer.allocate(1), size - 1);
        }
    }

    private static String fileNode(String name, Path file) {
        return "{\"driver\": \"file\", \"node-name\": \"" + name + "\", \"filename\": \"" + file + "\"}";
    }

    private static ObjectNode obj(String json) {
        try {
            return (ObjectNode) QmpJson.parse(json);
        } catch (QmpJson.ParseException e) {
            throw new IllegalArgumentException(json, e);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
