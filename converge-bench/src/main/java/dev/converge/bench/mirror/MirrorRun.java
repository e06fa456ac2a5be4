package dev.converge.bench.mirror;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.client.QmpClientException;
import dev.converge.qmp.client.QmpCommandException;
import dev.converge.qmp.client.QmpTimeoutException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

/**
 * One mirror run on one daemon, with the same QMP sequence for converged and qemu-storage-daemon:
 * <pre>
 * blockdev-add {driver: file, node-name: src-file, filename: SRC}; {driver: raw, node-name: src, file: src-file}
 * blockdev-add {driver: file, node-name: tgt-file, filename: TGT}; {driver: raw, node-name: tgt, file: tgt-file}
 * [writer] nbd-server-start {addr: {type: unix, data: {path}}}; block-export-add {type: nbd, id: e0, node-name: src, writable: true}
 * blockdev-mirror {job-id: m0, device: src, target: tgt, sync: full, copy-mode: MODE}
 *   ... BLOCK_JOB_READY {device: m0}        (time: reply of blockdev-mirror → arrival of this event)
 * [writer] stop the writer (all writes acknowledged and flushed)
 * block-job-cancel {device: m0}             (after READY: completes without pivot, target in sync)
 *   ... BLOCK_JOB_COMPLETED {device: m0}
 * [writer] block-export-del {id: e0} ... BLOCK_EXPORT_DELETED; nbd-server-stop
 * blockdev-del tgt, tgt-file, src, src-file
 * compare TGT with SRC byte for byte
 * </pre>
 * The nodes are removed at the end so that the next run can use the same daemon (and, for
 * converged, the same warmed-up JIT).
 */
final class MirrorRun {
    static final String JOB = "m0";
    static final String EXPORT = "e0";
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Bound on a command or event that does not move data (a cancel, a node removal). */
    private static final Duration CONTROL = Duration.ofSeconds(60);

    /**
     * What a run needs besides the daemon.
     *
     * @param source      the source image (the writer changes it; the check compares with it afterwards)
     * @param target      the target path, created empty for the run and deleted after it
     * @param mode        blockdev-mirror's copy-mode
     * @param writeRate   bytes per second of the writer; 0 for no writer
     * @param nbdSocket   the NBD server's UNIX socket when there is a writer
     * @param readyWithin how long to wait for BLOCK_JOB_READY
     * @param seed        the writer's random seed
     * @param fio         the writer is fio (started {@link #FIO_HEAD_START} before the mirror, kept
     *                    until the job completed), not the built-in paced writer
     * @param cpBeside    the machine's floor instead of a mirror: fio as above, and where the mirror
     *                    would start, {@code cp --sparse=always} copies the source file to the target
     *                    beside the daemon (no job, no target node); fio's figures cover the copy
     */
    record Spec(Images.Image source, Path target, CopyMode mode, long writeRate, Path nbdSocket, Duration readyWithin,
            long seed, boolean fio, boolean cpBeside) {
        Spec(Images.Image source, Path target, CopyMode mode, long writeRate, Path nbdSocket, Duration readyWithin,
                long seed) {
            this(source, target, mode, writeRate, nbdSocket, readyWithin, seed, false, false);
        }
    }

    /** How long fio writes before blockdev-mirror (the 1 s). */
    static final Duration FIO_HEAD_START = Duration.ofSeconds(1);
    /** How long fio goes on writing after the job completed (its tail shows the end's stalls). */
    static final Duration FIO_TAIL = Duration.ofMillis(500);

    /** Arrival times (System.nanoTime) of the events of a connection, by "EVENT/device". */
    static final class EventClock {
        /** Written by the QMP client's reader thread, read by the benchmark thread: a concurrent map. */
        private final Map<String, Long> arrivals = new ConcurrentHashMap<>();

        /** Starts stamping the events of {@code qmp}. */
        static EventClock attach(QmpClient qmp) {
            EventClock clock = new EventClock();
            qmp.addEventListener(e -> clock.arrivals.put(key(e.path("event").asText(), deviceOf(e)), System.nanoTime()));
            return clock;
        }

        Long arrival(String event, String device) {
            return arrivals.get(key(event, device));
        }

        void clear() {
            arrivals.clear();
        }

        private static String key(String event, String device) {
            return event + "/" + device;
        }
    }

    private final QmpClient qmp;
    private final EventClock clock;

    MirrorRun(QmpClient qmp, EventClock clock) {
        this.qmp = qmp;
        this.clock = clock;
    }

    /** Runs the sequence above; never throws for what the daemon answers, only reports it. */
    RunOutcome run(Spec spec) throws InterruptedException {
        clock.clear();
        qmp.drainEvents();
        try {
            Images.emptyTarget(spec.target(), spec.source().size());
            addNodes("src", spec.source().path());
            if (!spec.cpBeside()) {
                addNodes("tgt", spec.target());
            }
            RunOutcome outcome;
            try {
                outcome = mirror(spec);
            } finally {
                removeNodes();
            }
            if (outcome instanceof RunOutcome.Ready r && r.fio() == null) { // the fio case checked its own
                long diff = FileCompare.firstDifference(spec.source().path(), spec.target());
                if (diff >= 0) {
                    return new RunOutcome.Failed("target differs from source at byte " + diff);
                }
            }
            return outcome;
        } catch (QmpCommandException e) {
            if (e.errorClassName().equals("CommandNotFound")) {
                return new RunOutcome.Unavailable(e.command() + ": CommandNotFound");
            }
            return new RunOutcome.Failed(e.getMessage());
        } catch (QmpClientException | IOException e) {
            return new RunOutcome.Failed(e.getMessage());
        } finally {
            try {
                Files.deleteIfExists(spec.target());
            } catch (IOException e) {
                System.err.println("cannot delete " + spec.target() + ": " + e.getMessage());
            }
        }
    }

    private RunOutcome mirror(Spec spec) throws IOException, InterruptedException {
        if (spec.fio()) {
            return mirrorUnderFio(spec);
        }
        PacedWriter writer = null;
        boolean serving = false;
        boolean exported = false;
        try {
            if (spec.writeRate() > 0) {
                qmp.execute("nbd-server-start", obj().set("addr", obj().put("type", "unix")
                        .set("data", obj().put("path", spec.nbdSocket().toString()))));
                serving = true;
                qmp.execute("block-export-add", obj().put("type", "nbd").put("id", EXPORT).put("node-name", "src")
                        .put("writable", true));
                exported = true;
                writer = PacedWriter.start(NbdWriteClient.connect(spec.nbdSocket(), "src"), spec.writeRate(), spec.seed());
            }
            qmp.execute("blockdev-mirror", obj().put("job-id", JOB).put("device", "src").put("target", "tgt")
                    .put("sync", "full").put("copy-mode", spec.mode().wireName()));
            long replied = System.nanoTime();
            JsonNode first;
            try {
                first = qmp.awaitEvent(e -> JOB.equals(deviceOf(e)) && isOneOf(e, "BLOCK_JOB_READY", "BLOCK_JOB_COMPLETED",
                        "BLOCK_JOB_CANCELLED"), spec.readyWithin());
            } catch (QmpTimeoutException e) {
                PacedWriter.Figures w = writer == null ? null : writer.stop(CONTROL);
                writer = null;
                qmp.execute("block-job-cancel", obj().put("device", JOB).put("force", true));
                qmp.awaitEvent(ev -> JOB.equals(deviceOf(ev)) && isOneOf(ev, "BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED"),
                        CONTROL);
                return new RunOutcome.NotReady(spec.readyWithin().toSeconds(), w);
            }
            if (!first.path("event").asText().equals("BLOCK_JOB_READY")) {
                return new RunOutcome.Failed("job ended before READY: " + first);
            }
            Long arrived = clock.arrival("BLOCK_JOB_READY", JOB);
            long readyNanos = Math.max(0, (arrived != null ? arrived : System.nanoTime()) - replied);
            PacedWriter.Figures w = writer == null ? null : writer.stop(CONTROL);
            writer = null;
            qmp.execute("block-job-cancel", obj().put("device", JOB));
            JsonNode done = qmp.awaitEvent(e -> JOB.equals(deviceOf(e)) && isOneOf(e, "BLOCK_JOB_COMPLETED",
                    "BLOCK_JOB_CANCELLED"), CONTROL);
            if (done.path("data").has("error") || !done.path("event").asText().equals("BLOCK_JOB_COMPLETED")) {
                return new RunOutcome.Failed("soft cancel after READY did not complete cleanly: " + done);
            }
            return new RunOutcome.Ready(readyNanos, w);
        } finally {
            if (writer != null) {
                try {
                    writer.stop(CONTROL);
                } catch (IOException e) {
                    // the run already failed for another reason, which is what the report shows
                    System.err.println("writer: " + e.getMessage());
                }
            }
            stopServing(serving, exported);
        }
    }

    /**
     * The fio case: export, fio for {@link #FIO_HEAD_START}, blockdev-mirror, READY, soft cancel,
     * COMPLETED, fio for {@link #FIO_TAIL} more; the writer's figures are those of the writes in
     * flight between blockdev-mirror and BLOCK_JOB_COMPLETED (start, copy, READY and the end).
     */
    private RunOutcome mirrorUnderFio(Spec spec) throws IOException, InterruptedException {
        FioWriter fio = null;
        boolean serving = false;
        boolean exported = false;
        try {
            qmp.execute("nbd-server-start", obj().set("addr", obj().put("type", "unix")
                    .set("data", obj().put("path", spec.nbdSocket().toString()))));
            serving = true;
            qmp.execute("block-export-add", obj().put("type", "nbd").put("id", EXPORT).put("node-name", "src")
                    .put("writable", true));
            exported = true;
            fio = FioWriter.start(spec.nbdSocket(), "src", spec.writeRate(), spec.source().size(),
                    spec.target().resolveSibling("fio-" + spec.seed()));
            LockSupport.parkNanos(FIO_HEAD_START.toNanos());
            if (!fio.alive()) {
                return new RunOutcome.Failed("fio ended before the mirror started: " + fio.stop().size() + " writes");
            }
            long startMillis = System.currentTimeMillis();
            if (spec.cpBeside()) {
                FioWriter writer = fio;
                fio = null; // copyBesideFio stops it
                return copyBesideFio(spec, writer, startMillis);
            }
            qmp.execute("blockdev-mirror", obj().put("job-id", JOB).put("device", "src").put("target", "tgt")
                    .put("sync", "full").put("copy-mode", spec.mode().wireName()));
            long replied = System.nanoTime();
            JsonNode first;
            try {
                first = qmp.awaitEvent(e -> JOB.equals(deviceOf(e)) && isOneOf(e, "BLOCK_JOB_READY", "BLOCK_JOB_COMPLETED",
                        "BLOCK_JOB_CANCELLED"), spec.readyWithin());
            } catch (QmpTimeoutException e) {
                qmp.execute("block-job-cancel", obj().put("device", JOB).put("force", true));
                qmp.awaitEvent(ev -> JOB.equals(deviceOf(ev)) && isOneOf(ev, "BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED"),
                        CONTROL);
                return new RunOutcome.NotReady(spec.readyWithin().toSeconds(), null);
            }
            if (!first.path("event").asText().equals("BLOCK_JOB_READY")) {
                return new RunOutcome.Failed("job ended before READY: " + first);
            }
            Long arrived = clock.arrival("BLOCK_JOB_READY", JOB);
            long readyNanos = Math.max(0, (arrived != null ? arrived : System.nanoTime()) - replied);
            long cancelMillis = System.currentTimeMillis();
            qmp.execute("block-job-cancel", obj().put("device", JOB));
            JsonNode done = qmp.awaitEvent(e -> JOB.equals(deviceOf(e)) && isOneOf(e, "BLOCK_JOB_COMPLETED",
                    "BLOCK_JOB_CANCELLED"), CONTROL);
            long endMillis = System.currentTimeMillis();
            if (done.path("data").has("error") || !done.path("event").asText().equals("BLOCK_JOB_COMPLETED")) {
                return new RunOutcome.Failed("soft cancel after READY did not complete cleanly: " + done);
            }
            LockSupport.parkNanos(FIO_TAIL.toNanos());
            List<WriterLatency.Sample> samples = fio.stop();
            keepFioLogs(spec, startMillis, readyNanos, cancelMillis, endMillis);
            fio = null;
            // The soft cancel leaves the target a copy of the source at its drain point, and fio
            // wrote on: bytes written by writes that completed after the cancel was sent may
            // differ, everything else must be equal.
            long diff = FileCompare.firstDifference(spec.source().path(), spec.target(),
                    WriterLatency.writtenSince(samples, cancelMillis));
            if (diff >= 0) {
                return new RunOutcome.Failed("target differs from source at byte " + diff
                        + " (outside the writes after the cancel)");
            }
            return new RunOutcome.Ready(readyNanos, null, WriterLatency.of(samples, startMillis, endMillis));
        } finally {
            if (fio != null) {
                try {
                    fio.stop();
                } catch (IOException e) {
                    System.err.println("fio: " + e.getMessage());
                }
            }
            stopServing(serving, exported);
        }
    }

    /**
     * The floor of the fio case on this machine: {@code cp --sparse=always} of the source beside
     * the daemon while fio writes through its export, with fio's figures over the copy. The target
     * is not compared: fio changes the source while cp reads it (cp's correctness is not measured).
     */
    private static RunOutcome copyBesideFio(Spec spec, FioWriter fio, long startMillis)
            throws IOException, InterruptedException {
        boolean stopped = false;
        try {
            RunOutcome copied = CpBaseline.copy(spec.source().path(), spec.target(), spec.readyWithin());
            if (!(copied instanceof RunOutcome.Ready r)) {
                return copied;
            }
            long took = r.readyNanos();
            long endMillis = System.currentTimeMillis();
            LockSupport.parkNanos(FIO_TAIL.toNanos());
            List<WriterLatency.Sample> samples = fio.stop();
            stopped = true;
            keepFioLogs(spec, startMillis, took, endMillis, endMillis);
            return new RunOutcome.Ready(took, null, WriterLatency.of(samples, startMillis, endMillis), false);
        } finally {
            if (!stopped) {
                try {
                    fio.stop();
                } catch (IOException e) {
                    System.err.println("fio: " + e.getMessage());
                }
            }
        }
    }

    /**
     * With {@code -Dconverge.bench.keep-fio-logs=DIR}, keeps fio's logs of this run under
     * DIR/fio-START (START: blockdev-mirror's Unix milliseconds) with a {@code mirror.times} file
     * (start, READY, cancel and end, Unix milliseconds), to line the writes up with a trace.
     */
    private static void keepFioLogs(Spec spec, long startMillis, long readyNanos, long cancelMillis, long endMillis)
            throws IOException {
        String keep = System.getProperty("converge.bench.keep-fio-logs");
        if (keep == null) {
            return;
        }
        Path from = spec.target().resolveSibling("fio-" + spec.seed());
        Path to = Files.createDirectories(Path.of(keep).resolve("fio-" + startMillis));
        try (var files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Files.writeString(to.resolve("mirror.times"), "start " + startMillis + "\nready "
                + (startMillis + readyNanos / 1_000_000) + "\ncancel " + cancelMillis + "\nend " + endMillis + "\nmode "
                + spec.mode().wireName() + "\n");
    }

    /** Removes the export (waiting until it is gone, as QEMU deletes exports asynchronously) and stops the server. */
    private void stopServing(boolean serving, boolean exported) {
        if (exported) {
            try {
                qmp.execute("block-export-del", obj().put("id", EXPORT));
                qmp.awaitEvent(e -> e.path("event").asText().equals("BLOCK_EXPORT_DELETED")
                        && EXPORT.equals(e.path("data").path("id").asText()), CONTROL);
            } catch (QmpClientException e) {
                System.err.println("block-export-del: " + e.getMessage());
            }
        }
        if (serving) {
            try {
                qmp.execute("nbd-server-stop");
            } catch (QmpClientException e) {
                System.err.println("nbd-server-stop: " + e.getMessage());
            }
        }
    }

    private void addNodes(String name, Path file) {
        qmp.execute("blockdev-add", obj().put("driver", "file").put("node-name", name + "-file").put("filename", file.toString()));
        qmp.execute("blockdev-add", obj().put("driver", "raw").put("node-name", name).put("file", name + "-file"));
    }

    /** Removes whichever of the four nodes exist; the first failure propagates after trying all. */
    private void removeNodes() {
        QmpCommandException first = null;
        for (String node : new String[] {"tgt", "tgt-file", "src", "src-file"}) {
            try {
                qmp.execute("blockdev-del", obj().put("node-name", node));
            } catch (QmpCommandException e) {
                boolean missing = e.desc().contains("Failed to find node") || e.desc().contains("Cannot find node");
                if (!missing && first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private static boolean isOneOf(JsonNode e, String... names) {
        String n = e.path("event").asText();
        for (String name : names) {
            if (name.equals(n)) {
                return true;
            }
        }
        return false;
    }

    static String deviceOf(JsonNode event) {
        JsonNode data = event.path("data");
        return data.has("device") ? data.path("device").asText() : data.path("id").asText();
    }

    private static ObjectNode obj() {
        return JSON.createObjectNode();
    }
}
