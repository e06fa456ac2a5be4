package dev.converge.bench.joint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.bench.Daemons;
import dev.converge.daemon.launch.ChildDaemon;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.sockets.SocketAddress;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One measured run on this machine with two converged processes: the source runs the machine
 * (pattern workload writing RAM and its disk), the destination waits with {@code -S}. Mode
 * {@code migration}: {@code migrate} alone. Mode {@code joint}: one grouped transaction of
 * {@code blockdev-mirror} (the disk) and {@code migrate}. Both with auto-complete off:
 * {@code job-complete} on the migration as soon as every job is ready, so the two modes switch
 * over at the same point and only the switchover differs. The mirror runs in {@code copy-mode}
 * (default write-blocking: with a guest writing its disk continuously, a background mirror may
 * never see an instant with nothing dirty, so it might never become ready).
 * <p>
 * The disk target: an {@code nbd} node for the destination's NBD export when the destination
 * serves nbd-server-start; otherwise a file node on the image the destination's disk uses
 * (same host, pread/pwrite, nothing on the destination touches it before the machine runs).
 */
final class JointRun {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * What a run measured.
     *
     * @param readyMs      per job id: ms from the start command to JOB_STATUS_CHANGE ready
     * @param downtimeMs   query-migrate downtime: vCPUs stopped until the commit (destination starts)
     * @param switchoverMs job-complete until MIGRATION completed, measured by the client
     * @param totalMs      start command until the transaction concluded
     * @param transport    how the disk reached the destination (joint mode)
     * @param check        what was verified at the switchover point
     */
    record Result(Map<String, Long> readyMs, long downtimeMs, long switchoverMs, long totalMs, String transport,
            String check) {
    }

    private JointRun() {
    }

    static Result run(Path dir, JointOptions o, boolean joint) throws IOException {
        Files.createDirectories(dir);
        Path srcImg = dir.resolve("src.img");
        Path dstImg = dir.resolve("dst.img");
        fillRandom(srcImg, o.disk());
        try (RandomAccessFile f = new RandomAccessFile(dstImg.toFile(), "rw")) {
            f.setLength(o.disk());
        }
        String spec = "memory=" + (o.memory() >> 20) + "M,vcpus=1,workload=pattern,dirty-rate=" + o.dirtyRate()
                + ",disk=disk0";
        Duration connect = Duration.ofSeconds(30);
        try (ChildDaemon dst = Daemons.converged(Files.createDirectories(dir.resolve("dst")), "--machine", spec,
                "--incoming", "tcp:127.0.0.1:0", "-S", "--blockdev", file("disk0", dstImg));
                ChildDaemon src = Daemons.converged(Files.createDirectories(dir.resolve("src")), "--machine", spec,
                        "--blockdev", file("disk0", srcImg));
                QmpClient d = dst.connect(connect);
                QmpClient s = src.connect(connect)) {
            Map<String, Long> readyAt = new ConcurrentHashMap<>();
            s.addEventListener(e -> {
                if ("JOB_STATUS_CHANGE".equals(e.path("event").asText())
                        && "ready".equals(e.path("data").path("status").asText())) {
                    readyAt.putIfAbsent(e.path("data").path("id").asText(), System.nanoTime());
                }
            });
            exec(s, "migrate-set-capabilities", "{'capabilities':[{'capability':'events','state':true}]}");
            exec(s, "migrate-set-parameters", "{'downtime-limit':" + o.downtimeMs() + ",'max-bandwidth':0}");
            JsonNode a = d.execute("query-migrate").get("socket-address").get(0);
            String uri = SocketAddress.fromQmp(a, "socket-address").uri();
            String transport = "none";
            String migrate = "{'uri':'" + uri + "','job-id':'migration','auto-complete':false}";
            long t0;
            if (joint) {
                transport = attachTarget(dir, s, d, dstImg);
                t0 = System.nanoTime();
                exec(s, "transaction", "{'actions':[{'type':'blockdev-mirror','data':{'job-id':'mirror0',"
                        + "'device':'disk0','target':'tgt0','sync':'full','copy-mode':'" + o.copyMode() + "'}},{'type':'migrate','data':" + migrate
                        + "}],'properties':{'completion-mode':'grouped'}}");
            } else {
                t0 = System.nanoTime();
                exec(s, "migrate", migrate);
            }
            long deadline = System.nanoTime() + o.timeout().toNanos();
            for (String id : joint ? new String[] {"mirror0", "migration"} : new String[] {"migration"}) {
                s.awaitEvent(e -> "JOB_STATUS_CHANGE".equals(e.path("event").asText())
                        && id.equals(e.path("data").path("id").asText())
                        && "ready".equals(e.path("data").path("status").asText()), remaining(deadline));
            }
            long tComplete = System.nanoTime();
            exec(s, "job-complete", "{'id':'migration'}");
            s.awaitEvent(e -> "MIGRATION".equals(e.path("event").asText())
                    && "completed".equals(e.path("data").path("status").asText()), remaining(deadline));
            long tCompleted = System.nanoTime();
            s.awaitEvent(e -> "JOB_STATUS_CHANGE".equals(e.path("event").asText())
                    && "migration".equals(e.path("data").path("id").asText())
                    && "null".equals(e.path("data").path("status").asText()), remaining(deadline));
            long tEnd = System.nanoTime();
            String check = verify(s, d, joint);
            Map<String, Long> readyMs = new LinkedHashMap<>();
            readyAt.forEach((id, t) -> readyMs.put(id, (t - t0) / 1_000_000));
            long downtime = s.execute("query-migrate").path("downtime").asLong(-1);
            return new Result(readyMs, downtime, (tCompleted - tComplete) / 1_000_000, (tEnd - t0) / 1_000_000,
                    transport, check);
        }
    }

    /** The mirror's target on the source: an nbd node when the destination exports, else the shared image. */
    private static String attachTarget(Path dir, QmpClient s, QmpClient d, Path dstImg) {
        if (d.execute("query-commands").toString().contains("\"nbd-server-start\"")) {
            Path sock = dir.resolve("nbd.sock");
            exec(d, "nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + sock + "'}}}");
            exec(d, "block-export-add", "{'type':'nbd','id':'e0','node-name':'disk0','writable':true}");
            exec(s, "blockdev-add", "{'driver':'nbd','node-name':'tgt0','server':{'type':'unix','path':'" + sock
                    + "'},'export':'disk0'}");
            return "nbd export of the destination";
        }
        exec(s, "blockdev-add", file("tgt0", dstImg));
        return "file node on the destination's image (nbd not wired in converged)";
    }

    /** Digests at the switchover point: the source is in postmigrate, the destination paused by -S. */
    private static String verify(QmpClient s, QmpClient d, boolean joint) {
        String srcState = s.execute("query-status").path("status").asText();
        String dstState = d.execute("query-status").path("status").asText();
        if (!srcState.equals("postmigrate") || !dstState.equals("paused")) {
            throw new IllegalStateException("after the switchover the source is " + srcState + " (expected: "
                    + "postmigrate) and the destination " + dstState + " (expected: paused)");
        }
        JsonNode sd = s.execute("query-machine-digest");
        JsonNode dd = d.execute("query-machine-digest");
        if (!sd.get("ram").equals(dd.get("ram"))) {
            throw new IllegalStateException("RAM digests differ: source " + sd + ", destination " + dd);
        }
        if (joint && !sd.get("disks").equals(dd.get("disks"))) {
            throw new IllegalStateException("disk digests differ: source " + sd + ", destination " + dd);
        }
        return joint ? "RAM and disk digests equal" : "RAM digests equal";
    }

    private static void exec(QmpClient c, String command, String args) {
        try {
            c.execute(command, (ObjectNode) JSON.readTree(args.replace('\'', '"')));
        } catch (IOException e) {
            throw new IllegalArgumentException(args, e);
        }
    }

    static String file(String node, Path img) {
        return "{\"driver\": \"file\", \"node-name\": \"" + node + "\", \"filename\": \"" + img + "\"}";
    }

    private static void fillRandom(Path img, long size) throws IOException {
        Random r = new Random(1);
        ByteBuffer b = ByteBuffer.allocate(1 << 20);
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (long off = 0; off < size; off += b.capacity()) {
                r.nextBytes(b.array());
                b.clear().limit((int) Math.min(b.capacity(), size - off));
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            }
        }
    }

    private static Duration remaining(long deadline) {
        return Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
    }

}
