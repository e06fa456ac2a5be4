package dev.converge.daemon.backup;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.daemon.Daemon;
import dev.converge.daemon.DaemonConfig;
import dev.converge.migration.qmp.MachineConfig;
import dev.converge.nbd.client.NbdClient;
import dev.converge.nbd.client.NbdClientConfig;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backups with real NBD peers on a daemon: fleecing (sync=none, a snapshot-access node exported
 * and copied by nbdcopy while qemu-io writes through the source's export) and incremental backup
 * pulled over NBD (nbdinfo --map of qemu:dirty-bitmap:b0, only the dirty extents copied).
 */
@Tag("integration")
class BackupNbdTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int SIZE = 16 << 20;

    @TempDir
    Path dir;
    Daemon daemon;
    QmpClient qmp;
    Path nbdSock;
    byte[] original;

    @BeforeEach
    void setUp() throws Exception {
        original = new byte[SIZE];
        new Random(5).nextBytes(original);
        Files.write(dir.resolve("src.raw"), original);
        for (String n : List.of("tmp", "full", "restored")) {
            Files.write(dir.resolve(n + ".raw"), new byte[SIZE]);
        }
        Path qmpSock = dir.resolve("qmp.sock");
        daemon = Daemon.start(new DaemonConfig(List.of(SocketAddress.parse("unix:" + qmpSock)), List.of(
                "{\"driver\":\"raw\",\"node-name\":\"src\",\"file\":{\"driver\":\"file\",\"filename\":\""
                        + dir.resolve("src.raw") + "\"}}"), MachineConfig.none()));
        qmp = QmpClient.connect("unix:" + qmpSock);
        nbdSock = dir.resolve("nbd.sock");
        exec("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + nbdSock + "'}}}");
        // the guest: writes through a writable export of the source, made before any backup
        exec("block-export-add", "{'type':'nbd','id':'drive','name':'drive','node-name':'src','writable':true}");
    }

    @AfterEach
    void tearDown() {
        if (qmp != null) {
            qmp.close();
        }
        if (daemon != null) {
            daemon.close();
        }
    }

    private JsonNode exec(String command, String args) {
        try {
            return qmp.execute(command, (ObjectNode) JSON.readTree(args.replace('\'', '"')));
        } catch (IOException e) {
            throw new IllegalArgumentException(args, e);
        }
    }

    private void awaitJob(String id, String status) {
        qmp.awaitEvent(e -> "JOB_STATUS_CHANGE".equals(e.path("event").asText())
                && id.equals(e.path("data").path("id").asText())
                && status.equals(e.path("data").path("status").asText()), TestTimeouts.LONG);
    }

    private void blockdevAddRaw(String name) {
        exec("blockdev-add", "{'driver':'raw','node-name':'" + name + "','file':{'driver':'file','filename':'"
                + dir.resolve(name + ".raw") + "'}}");
    }

    private String url(String export) {
        return "nbd+unix:///" + export + "?socket=" + nbdSock;
    }

    private static void assumeTool(String tool) {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/" + tool)), tool + " is not installed: skipping");
    }

    private static Process start(String... command) throws IOException {
        assumeTool(command[0]);
        return new ProcessBuilder(command).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(
                new java.io.File("/dev/null"))).start();
    }

    private static String finish(Process p) throws Exception {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS)).as("peer ended").isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    /** qemu-io writing {@code count} 64 KiB patterns at scattered offsets through the guest's export. */
    private Process guestWrites(long seed, int count) throws IOException {
        Random r = new Random(seed);
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
        for (int i = 0; i < count; i++) {
            cmd.add("-c");
            cmd.add("write -P 0x" + Integer.toHexString(0x10 + i % 0xe0) + " " + (long) r.nextInt(SIZE / 65536) * 65536
                    + " 65536");
        }
        cmd.add(url("drive"));
        return start(cmd.toArray(String[]::new));
    }

    @Test
    void fleecingClientCopiesThePointInTimeWhileTheGuestWrites() throws Exception {
        assumeTool("nbdcopy");
        blockdevAddRaw("tmp");
        exec("blockdev-backup", "{'job-id':'fleece','device':'src','target':'tmp','sync':'none',"
                + "'filter-node-name':'cbw'}");
        exec("blockdev-add", "{'driver':'snapshot-access','node-name':'snap','file':'cbw'}");
        exec("block-export-add", "{'type':'nbd','id':'snap','node-name':'snap'}");
        finish(guestWrites(1, 32)); // before the reader starts: the reader must not see these
        Path copy = dir.resolve("copy.raw");
        Process writer = guestWrites(2, 96); // while the reader copies
        Process reader = start("nbdcopy", url("snap"), copy.toString());
        finish(reader);
        finish(writer);
        assertThat(Files.readAllBytes(copy)).as("the export holds the source as the backup began").isEqualTo(original);
        assertThat(Files.readAllBytes(dir.resolve("src.raw"))).as("the guest's writes reached the source")
                .isNotEqualTo(original);
        exec("block-export-del", "{'id':'snap'}");
        exec("block-job-cancel", "{'device':'fleece'}");
        awaitJob("fleece", "null");
        exec("blockdev-del", "{'node-name':'snap'}");
        assertThat(exec("query-block-jobs", "{}")).isEmpty();
    }

    @Test
    void incrementalBackupPulledOverNbdCopiesOnlyTheDirtyExtents() throws Exception {
        assumeTool("nbdinfo");
        assumeTool("qemu-io");
        blockdevAddRaw("full");
        exec("block-dirty-bitmap-add", "{'node':'src','name':'b0'}");
        // a full backup that restarts the bitmap: afterwards b0 holds only the writes made since
        exec("blockdev-backup", "{'job-id':'full','device':'src','target':'full','sync':'full','bitmap':'b0',"
                + "'bitmap-mode':'on-success'}");
        awaitJob("full", "null");
        assertThat(Files.readAllBytes(dir.resolve("full.raw"))).isEqualTo(original);

        finish(guestWrites(3, 20));
        byte[] now = Files.readAllBytes(dir.resolve("src.raw"));
        // the guest is quiet: pull the changes through an export that offers the bitmap
        exec("block-export-add", "{'type':'nbd','id':'inc','name':'inc','node-name':'src','bitmaps':['b0']}");
        String map = finish(start("nbdinfo", "--map=qemu:dirty-bitmap:b0", url("inc")));
        byte[] restored = Files.readAllBytes(dir.resolve("full.raw"));
        long copied = 0;
        try (NbdClient c = new NbdClient(NbdClientConfig.of(UnixDomainSocketAddress.of(nbdSock), "inc"))) {
            for (String line : map.strip().split("\n")) {
                String[] f = line.strip().split("\\s+");
                long off = Long.parseLong(f[0]);
                int len = Integer.parseInt(f[1]);
                if (!f[2].equals("1")) {
                    continue; // clean
                }
                ByteBuffer b = ByteBuffer.allocate(len);
                c.read(off, b);
                System.arraycopy(b.array(), 0, restored, (int) off, len);
                copied += len;
            }
        }
        assertThat(copied).as("only the dirty extents").isPositive().isLessThanOrEqualTo(20L * 65536);
        assertThat(restored).as("full + incremental = the source now").isEqualTo(now);
        assertThat(Arrays.equals(restored, original)).isFalse();
        exec("block-export-del", "{'id':'inc'}");
    }
}
