package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockGraph;
import dev.converge.block.qmp.BlockQmp;
import dev.converge.block.qmp.MirrorQmp;
import dev.converge.job.JobEngine;
import dev.converge.job.qmp.JobQmp;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.client.QmpCommandException;
import dev.converge.testing.QmpTestServer;
import dev.converge.testing.TestTimeouts;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Differential test: one QMP sequence (blockdev-add, blockdev-mirror with argument errors, wait
 * for BLOCK_JOB_READY, query-block-jobs, job-complete, job-finalize, the block-job errors)
 * against qemu-storage-daemon and against our handlers over a real QMP socket; the transcripts
 * (replies, error classes and texts, events with their data members) must be equal. Skipped when
 * qemu-storage-daemon is absent.
 */
@Tag("integration")
class MirrorQsdInteropTest {
    static final Path QSD = Path.of("/usr/bin/qemu-storage-daemon");
    static final int SIZE = 4 << 20;
    /** Data members whose values are compared; the others are compared by presence only. */
    static final Set<String> VALUES = Set.of("id", "device", "status", "type", "len", "offset", "speed", "action",
            "operation", "ready", "io-status", "auto-finalize", "auto-dismiss", "error");

    @TempDir
    Path dir;

    @Test
    void sameTranscriptAsQemuStorageDaemon() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(QSD), "qemu-storage-daemon not installed: differential test skipped");
        List<String> theirs = againstQsd();
        List<String> ours = againstUs();
        assertThat(ours).containsExactlyElementsOf(theirs);
    }

    private void images(Path d) throws Exception {
        Files.createDirectories(d);
        byte[] data = new byte[1 << 20];
        new Random(9).nextBytes(data);
        for (String n : new String[] {"src", "tgt"}) {
            try (RandomAccessFile f = new RandomAccessFile(d.resolve(n + ".raw").toFile(), "rw")) {
                f.setLength(SIZE);
                if (n.equals("src")) {
                    f.write(data);
                }
            }
        }
    }

    private List<String> againstQsd() throws Exception {
        Path d = dir.resolve("qsd");
        images(d);
        Path sock = d.resolve("qmp.sock");
        Process p = new ProcessBuilder(QSD.toString(), "--chardev", "socket,path=" + sock + ",server=on,wait=off,id=c0",
                "--monitor", "chardev=c0").redirectErrorStream(true).redirectOutput(d.resolve("qsd.log").toFile())
                .start();
        try {
            await().atMost(TestTimeouts.MEDIUM).until(() -> Files.exists(sock) || !p.isAlive());
            assertThat(p.isAlive()).as("qemu-storage-daemon running").isTrue();
            try (QmpClient c = QmpClient.connect("unix:" + sock)) {
                return sequence(c, d);
            }
        } finally {
            p.destroy();
            p.waitFor();
        }
    }

    private List<String> againstUs() throws Exception {
        Path d = dir.resolve("ours");
        images(d);
        QmpRegistry registry = new QmpRegistry();
        try (MainLoop loop = new MainLoop(); QmpTestServer server = QmpTestServer.start(registry, loop)) {
            BlockGraph graph = new BlockGraph(loop);
            JobEngine engine = new JobEngine(loop);
            new BlockQmp(graph).register(registry);
            JobQmp jobQmp = new JobQmp(engine, registry, server.events());
            jobQmp.register();
            MirrorQmp.register(registry, server.events(), engine, jobQmp, graph);
            try (QmpClient c = server.newClient()) {
                return sequence(c, d);
            } finally {
                assertThat(engine.awaitThreadsEnded(TestTimeouts.MEDIUM)).isTrue();
            }
        }
    }

    private List<String> sequence(QmpClient c, Path d) {
        List<JsonNode> events = new CopyOnWriteArrayList<>();
        c.addEventListener(events::add);
        List<String> t = new ArrayList<>();
        for (String n : new String[] {"src", "tgt"}) {
            t.add(call(c, "blockdev-add", "{'driver':'raw','node-name':'" + n + "','file':{'driver':'file','filename':'"
                    + d.resolve(n + ".raw") + "'}}"));
        }
        t.add(call(c, "blockdev-mirror", "{'device':'src','target':'tgt','sync':'full'}"));
        t.add(call(c, "blockdev-mirror", "{'job-id':'m','device':'nosuch','target':'tgt','sync':'full'}"));
        t.add(call(c, "blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full','granularity':1000}"));
        t.add(call(c, "blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'bitmap'}"));
        t.add(call(c, "blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full',"
                + "'on-target-error':'bogus'}"));
        t.add(call(c, "blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full',"
                + "'auto-finalize':false}"));
        c.awaitEvent("BLOCK_JOB_READY", TestTimeouts.MEDIUM);
        t.add(call(c, "query-block-jobs", "{}"));
        t.add(call(c, "block-job-complete", "{'device':'nope'}"));
        t.add(call(c, "block-job-set-speed", "{'device':'m','speed':-1}"));
        t.add(call(c, "job-complete", "{'id':'m'}"));
        c.awaitEvent("BLOCK_JOB_PENDING", TestTimeouts.MEDIUM);
        t.add(call(c, "job-finalize", "{'id':'m'}"));
        c.awaitEvent(e -> e.path("event").asText().equals("JOB_STATUS_CHANGE")
                && e.path("data").path("status").asText().equals("null"), TestTimeouts.MEDIUM);
        t.add(call(c, "query-block-jobs", "{}"));
        for (JsonNode e : events) {
            t.add("event " + e.path("event").asText() + " " + describe(e.path("data")));
        }
        return t;
    }

    private static String call(QmpClient c, String cmd, String args) {
        try {
            JsonNode r = c.execute(cmd, (ObjectNode) MirrorFixture.parse(args.replace('\'', '"')));
            return cmd + " -> " + describe(r);
        } catch (QmpCommandException e) {
            return cmd + " -> error " + e.errorClassName() + ": " + e.desc();
        }
    }

    /** Members sorted by name; values for {@link #VALUES}, presence for the others; arrays element-wise. */
    private static String describe(JsonNode n) {
        if (n == null || n.isMissingNode() || n.isNull()) {
            return "{}";
        }
        if (n.isArray()) {
            List<String> out = new ArrayList<>();
            n.forEach(e -> out.add(describe(e)));
            return out.toString();
        }
        if (!n.isObject()) {
            return n.toString();
        }
        Set<String> parts = new TreeSet<>();
        for (Iterator<String> it = n.fieldNames(); it.hasNext();) {
            String k = it.next();
            parts.add(VALUES.contains(k) ? k + "=" + n.get(k) : k);
        }
        return parts.toString();
    }
}
