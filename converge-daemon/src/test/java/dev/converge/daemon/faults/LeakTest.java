package dev.converge.daemon.faults;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.daemon.Daemon;
import dev.converge.daemon.DaemonConfig;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.qmp.MachineConfig;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.client.QmpClient;
import dev.converge.testing.TestTimeouts;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Repeated work must not leak: 300 mirror cycles, 50 NBD server cycles (with a client each) and
 * 200 failed incoming migrations on one daemon leave heap, threads and file descriptors where a
 * warm-up round left them (a small margin for what the JVM itself starts).
 */
@Tag("integration")
class LeakTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    private Daemon daemon;
    private QmpClient qmp;

    @AfterEach
    void close() {
        if (qmp != null) {
            qmp.close();
        }
        if (daemon != null) {
            daemon.close();
        }
    }

    private void exec(String command, String args) {
        try {
            qmp.execute(command, (ObjectNode) JSON.readTree(args.replace('\'', '"')));
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(args, e);
        }
    }

    /** Heap after a full collection, live threads and open file descriptors of this JVM. */
    record Footprint(long heap, int threads, long fds) {
        static Footprint now() {
            System.gc();
            long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
            try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
                return new Footprint(heap, ManagementFactory.getThreadMXBean().getThreadCount(), fds.count());
            } catch (java.io.IOException e) {
                throw new IllegalStateException(e);
            }
        }

        /**
         * Asserts the bound once the last cycle's teardown had a chance to finish: its copy threads
         * and its incoming thread end after the event the cycle waited for, so the footprint is
         * sampled until it fits (a leak never does); on timeout the last sample's failure is reported.
         */
        static void assertSettlesWithin(Footprint base, String what) {
            Awaitility.await().atMost(TestTimeouts.SHORT).pollDelay(java.time.Duration.ZERO)
                    .pollInterval(java.time.Duration.ofMillis(50)).untilAsserted(() -> now().assertBoundedBy(base, what));
        }

        void assertBoundedBy(Footprint base, String what) {
            assertThat(threads).as("%s: threads (warm-up %d)", what, base.threads).isLessThanOrEqualTo(base.threads + 8);
            assertThat(fds).as("%s: file descriptors (warm-up %d)", what, base.fds).isLessThanOrEqualTo(base.fds + 8);
            assertThat(heap).as("%s: heap after GC (warm-up %d)", what, base.heap).isLessThanOrEqualTo(base.heap + (64L << 20));
        }
    }

    private void mirrorCycle(int i) {
        exec("blockdev-mirror", "{'job-id':'m" + i + "','device':'src','target':'dst','sync':'full'}");
        qmp.awaitEvent(e -> e.path("event").asText().equals("BLOCK_JOB_READY")
                && e.path("data").path("device").asText().equals("m" + i), TestTimeouts.MEDIUM);
        exec("job-complete", "{'id':'m" + i + "'}");
        qmp.awaitEvent(e -> e.path("event").asText().equals("JOB_STATUS_CHANGE")
                && e.path("data").path("id").asText().equals("m" + i)
                && e.path("data").path("status").asText().equals("null"), TestTimeouts.MEDIUM);
    }

    /** Polls every millisecond: the cycles are short, and Awaitility's default 100 ms would be most of the run. */
    private static org.awaitility.core.ConditionFactory await() {
        return Awaitility.await().atMost(TestTimeouts.MEDIUM).pollDelay(java.time.Duration.ZERO)
                .pollInterval(java.time.Duration.ofMillis(1));
    }

    private void nbdCycle(int i) throws Exception {
        Path sock = dir.resolve("nbd.sock");
        exec("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + sock + "'}}}");
        exec("block-export-add", "{'type':'nbd','id':'e" + i + "','node-name':'src','name':'src'}");
        exec("blockdev-add", "{'driver':'nbd','node-name':'c" + i + "','read-only':true,'server':{'type':'unix','path':'"
                + sock + "'},'export':'src'}");
        exec("blockdev-del", "{'node-name':'c" + i + "'}");
        // The server sees the client's disconnect a moment later: until then the safe delete refuses.
        await().ignoreExceptions().untilAsserted(
                () -> exec("block-export-del", "{'id':'e" + i + "'}"));
        await().until(() -> qmp.execute("query-block-exports").isEmpty());
        exec("nbd-server-stop", "{}");
    }

    private void failedIncoming(int i) throws Exception {
        exec("migrate-incoming", "{'uri':'tcp:127.0.0.1:0'}");
        var a = qmp.execute("query-migrate").get("socket-address").get(0);
        try (SocketChannel ch = SocketChannel.open(new InetSocketAddress(a.get("host").asText(), a.get("port").asInt()))) {
            ch.write(ByteBuffer.wrap(("garbage " + i).getBytes()));
            ch.shutdownOutput();
            qmp.awaitEvent(e -> e.path("event").asText().equals("MIGRATION")
                    && e.path("data").path("status").asText().equals("failed"), TestTimeouts.MEDIUM);
        }
    }

    @Test
    void mirrorNbdAndIncomingCyclesLeaveHeapThreadsAndFdsBounded() throws Exception {
        daemon = Daemon.start(new DaemonConfig(List.of(SocketAddress.parse("unix:" + dir.resolve("qmp.sock"))),
                List.of("{\"driver\": \"null-co\", \"node-name\": \"src\", \"size\": 1048576}",
                        "{\"driver\": \"null-co\", \"node-name\": \"dst\", \"size\": 1048576}"),
                MachineConfig.of("dst", MachineSpec.parse("memory=4M,vcpus=1,workload=idle")).withIncoming("defer")));
        qmp = QmpClient.connect("unix:" + dir.resolve("qmp.sock"));
        exec("migrate-set-capabilities", "{'capabilities':[{'capability':'events','state':true}]}");

        for (int i = 0; i < 30; i++) {
            mirrorCycle(i);
        }
        Footprint base = Footprint.now();
        for (int i = 30; i < 300; i++) {
            mirrorCycle(i);
        }
        Footprint.assertSettlesWithin(base, "300 mirror cycles");

        for (int i = 0; i < 5; i++) {
            nbdCycle(i);
        }
        base = Footprint.now();
        for (int i = 5; i < 50; i++) {
            nbdCycle(i);
        }
        Footprint.assertSettlesWithin(base, "50 NBD server cycles");

        for (int i = 0; i < 20; i++) {
            failedIncoming(i);
        }
        base = Footprint.now();
        for (int i = 20; i < 200; i++) {
            failedIncoming(i);
        }
        Footprint.assertSettlesWithin(base, "200 failed incoming migrations");
        assertThat(qmp.execute("query-status").get("status").asText()).isEqualTo("inmigrate");
    }
}
