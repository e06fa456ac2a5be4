package dev.converge.daemon.joint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.daemon.Converged;
import dev.converge.qmp.client.QmpClient;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The joint switchover between two hosts: two {@code converged} processes, each in its own
 * network namespace joined by a veth pair, so that the NBD mirror and the migration stream
 * really cross a network interface. The test hosts are namespaces this test makes and removes;
 * QMP goes over UNIX sockets, which namespaces do not separate. Skipped (visibly) where
 * {@code ip netns} is not permitted; {@link JointNbdTest} covers the same flow on loopback.
 */
@Tag("integration")
class JointNetnsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SRC_IP = "10.231.7.1";
    private static final String DST_IP = "10.231.7.2";

    @TempDir
    Path dir;
    private final String tag = Long.toString(ProcessHandle.current().pid() % 100000, 36);
    private final String srcNs = "cvs" + tag;
    private final String dstNs = "cvd" + tag;
    private final List<Process> processes = new ArrayList<>();
    private boolean namespaces;

    @AfterEach
    void cleanUp() throws Exception {
        for (Process p : processes) {
            p.destroy();
            if (!p.waitFor(TestTimeouts.SHORT.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
            }
        }
        if (namespaces) {
            run("ip", "netns", "del", srcNs);
            run("ip", "netns", "del", dstNs);
        }
    }

    /** Runs a command; -1 when it cannot be started (no iproute2). */
    private static int run(String... cmd) throws InterruptedException {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            return p.waitFor();
        } catch (IOException e) {
            return -1;
        }
    }

    private void must(String... cmd) throws Exception {
        assertThat(run(cmd)).as(String.join(" ", cmd)).isZero();
    }

    private boolean makeHosts() throws Exception {
        if (run("ip", "netns", "add", srcNs) != 0) {
            return false;
        }
        if (run("ip", "netns", "add", dstNs) != 0) {
            run("ip", "netns", "del", srcNs);
            return false;
        }
        namespaces = true;
        must("ip", "link", "add", "cv" + tag + "a", "netns", srcNs, "type", "veth", "peer", "name", "cv" + tag + "b",
                "netns", dstNs);
        must("ip", "-n", srcNs, "addr", "add", SRC_IP + "/24", "dev", "cv" + tag + "a");
        must("ip", "-n", dstNs, "addr", "add", DST_IP + "/24", "dev", "cv" + tag + "b");
        for (String ns : new String[] {srcNs, dstNs}) {
            must("ip", "-n", ns, "link", "set", "lo", "up");
        }
        must("ip", "-n", srcNs, "link", "set", "cv" + tag + "a", "up");
        must("ip", "-n", dstNs, "link", "set", "cv" + tag + "b", "up");
        return true;
    }

    private QmpClient daemon(String ns, String name, String... args) throws Exception {
        Path socket = dir.resolve(name + ".qmp");
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns,
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), Converged.class.getName(), "--qmp", "unix:" + socket));
        cmd.addAll(List.of(args));
        processes.add(new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(name + ".log").toFile())
                .start());
        QmpClient[] client = new QmpClient[1];
        await().atMost(TestTimeouts.MEDIUM).ignoreExceptions().until(() -> {
            client[0] = QmpClient.connect("unix:" + socket);
            return true;
        });
        return client[0];
    }

    private static ObjectNode obj(String json) throws IOException {
        return (ObjectNode) JSON.readTree(json.replace('\'', '"'));
    }

    @Test
    void jointSwitchoverAcrossTwoNetworkNamespaces() throws Exception {
        assumeTrue(makeHosts(), "ip netns is not permitted here: the two-host variant is skipped (JointNbdTest runs on loopback)");
        jointSwitchoverVerified();
    }

    /**
     * The same over a bad link: tc netem on both ends of the veth delays every packet by 5 ms (a
     * 10 ms round trip), jitters it and loses 1 % (TCP retransmits). Skipped visibly where tc netem
     * is unavailable; NetworkFaultTest covers delay, partition and drop with a proxy on loopback.
     */
    @Test
    void jointSwitchoverOverADelayedLossyLink() throws Exception {
        assumeTrue(makeHosts(), "ip netns is not permitted here: the netem variant is skipped (NetworkFaultTest runs a proxy)");
        boolean netem = run("tc", "-n", srcNs, "qdisc", "add", "dev", "cv" + tag + "a", "root", "netem", "delay", "5ms", "1ms",
                "loss", "1%") == 0
                && run("tc", "-n", dstNs, "qdisc", "add", "dev", "cv" + tag + "b", "root", "netem", "delay", "5ms", "1ms",
                "loss", "1%") == 0;
        assumeTrue(netem, "tc netem is not available here (kernel module sch_netem): the lossy-link variant is skipped");
        jointSwitchoverVerified();
    }

    private void jointSwitchoverVerified() throws Exception {
        Path srcImg = dir.resolve("src.img");
        Path dstImg = dir.resolve("dst.img");
        byte[] data = new byte[16 << 20];
        new Random(7).nextBytes(data);
        Files.write(srcImg, data);
        try (RandomAccessFile f = new RandomAccessFile(dstImg.toFile(), "rw")) {
            f.setLength(data.length);
        }
        String machine = "memory=64M,vcpus=1,workload=pattern,dirty-rate=16M,disk=disk0";
        try (QmpClient d = daemon(dstNs, "dst", "--blockdev", "{\"driver\":\"file\",\"node-name\":\"disk0\",\"filename\":\""
                + dstImg + "\"}", "--machine", machine, "--incoming", "defer", "-S");
                QmpClient s = daemon(srcNs, "src", "--blockdev", "{\"driver\":\"file\",\"node-name\":\"disk0\",\"filename\":\""
                        + srcImg + "\"}", "--machine", machine)) {
            d.execute("nbd-server-start", obj("{'addr':{'type':'inet','data':{'host':'" + DST_IP + "','port':'10809'}}}"));
            d.execute("block-export-add", obj("{'type':'nbd','id':'disk0','node-name':'disk0','writable':true}"));
            d.execute("migrate-incoming", obj("{'uri':'tcp:" + DST_IP + ":4444'}"));

            s.execute("migrate-set-parameters", obj("{'max-bandwidth':0}"));
            s.execute("blockdev-add", obj("{'driver':'nbd','node-name':'remote0','server':{'type':'inet','host':'"
                    + DST_IP + "','port':'10809'},'export':'disk0'}"));
            s.execute("transaction", obj("{'actions':[{'type':'blockdev-mirror','data':{'job-id':'m0','device':'disk0',"
                    + "'target':'remote0','sync':'full'}},{'type':'migrate','data':{'uri':'tcp:" + DST_IP
                    + ":4444','job-id':'migration','auto-complete':false}}],'properties':{'completion-mode':'grouped'}}"));
            await().atMost(TestTimeouts.LONG).until(() -> statuses(s).equals(List.of("ready", "ready")));
            s.execute("job-complete", obj("{'id':'migration'}"));
            await().atMost(TestTimeouts.LONG).until(() -> s.execute("query-jobs").isEmpty());

            assertThat(s.execute("query-status").path("status").asText()).isEqualTo("postmigrate");
            assertThat(s.execute("query-migrate").path("status").asText()).isEqualTo("completed");
            JsonNode srcDigest = s.execute("query-machine-digest");
            JsonNode dstDigest = d.execute("query-machine-digest");
            assertThat(dstDigest.path("ram")).isEqualTo(srcDigest.path("ram"));
            assertThat(dstDigest.path("disks").path("disk0").asText()).isNotEmpty()
                    .isEqualTo(srcDigest.path("disks").path("disk0").asText());
            d.execute("cont");
            assertThat(d.execute("query-status").path("status").asText()).isEqualTo("running");
        }
    }

    private static List<String> statuses(QmpClient c) {
        List<String> out = new ArrayList<>();
        for (JsonNode j : c.execute("query-jobs")) {
            out.add(j.path("status").asText());
        }
        return out;
    }
}
