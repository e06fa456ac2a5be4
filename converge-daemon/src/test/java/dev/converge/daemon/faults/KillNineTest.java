package dev.converge.daemon.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.daemon.Converged;
import dev.converge.daemon.Daemon;
import dev.converge.daemon.DaemonConfig;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.qmp.MachineConfig;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.client.QmpClient;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of one side, at a phase, of a migration, a mirror into the other side's NBD export, and
 * the joint transaction of both. The killed side is a real {@code converged} process (SIGKILL:
 * no shutdown hook, no goodbye on any socket); the survivor runs in this JVM. Every case ends
 * with the survivor safe: a surviving source runs on, on its own unchanged disk, with no job
 * left; a surviving destination never runs the guest (it discarded what it got and waits for
 * another incoming migration, which then arrives whole and is verified by digest).
 */
@Tag("integration")
class KillNineTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MACHINE = "memory=32M,vcpus=1,workload=pattern,dirty-rate=8M,disk=disk0";
    /**
     * For postcopy: the vCPU dirties as fast as it can, so every page holds data from the first
     * milliseconds (a page never written is a zero page and costs the first pass nothing) and
     * precopy can never fit the downtime limit on its own.
     */
    private static final String UNCONVERGING_MACHINE = "memory=32M,vcpus=1,workload=pattern";
    private static final int DISK = 8 << 20;

    @TempDir
    Path dir;
    private Path srcImg;
    private Path dstImg;
    private final List<AutoCloseable> closing = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();

    @BeforeEach
    void images() throws Exception {
        srcImg = dir.resolve("src.img");
        dstImg = dir.resolve("dst.img");
        byte[] data = new byte[DISK];
        new Random(5).nextBytes(data);
        Files.write(srcImg, data);
        try (RandomAccessFile f = new RandomAccessFile(dstImg.toFile(), "rw")) {
            f.setLength(DISK);
        }
    }

    @AfterEach
    void close() throws Exception {
        for (Process p : processes) {
            p.destroyForcibly().waitFor();
        }
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
    }

    /** One side, reached over QMP; {@code process} is null for the side in this JVM. */
    record Side(QmpClient qmp, Process process) {
        JsonNode exec(String command, String args) {
            try {
                return qmp.execute(command, args == null ? null : (ObjectNode) JSON.readTree(args.replace('\'', '"')));
            } catch (IOException e) {
                throw new IllegalArgumentException(args, e);
            }
        }

        String status() {
            return exec("query-status", null).get("status").asText();
        }

        String migration() {
            return exec("query-migrate", null).path("status").asText("none");
        }

        void kill9() throws InterruptedException {
            process.destroyForcibly(); // SIGKILL
            process.waitFor();
        }
    }

    private static String sha256(Path file) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static String file(String node, Path img) {
        return "{\"driver\":\"file\",\"node-name\":\"" + node + "\",\"filename\":\"" + img + "\"}";
    }

    /** A side as a converged process (the one that will be killed) or in this JVM. */
    private Side side(String name, boolean process, Path img, boolean incoming) throws Exception {
        return side(name, process, img, incoming, MACHINE);
    }

    private Side side(String name, boolean process, Path img, boolean incoming, String machine) throws Exception {
        Path sock = dir.resolve(name + ".qmp");
        if (process) {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                    Converged.class.getName(), "--qmp", "unix:" + sock, "--blockdev", file("disk0", img),
                    "--machine", machine));
            if (incoming) {
                cmd.addAll(List.of("--incoming", "defer", "-S"));
            }
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(name + ".log").toFile())
                    .start();
            processes.add(p);
            QmpClient[] c = new QmpClient[1];
            await().atMost(TestTimeouts.MEDIUM).ignoreExceptions().until(() -> {
                c[0] = QmpClient.connect("unix:" + sock);
                return true;
            });
            closing.add(c[0]);
            return new Side(c[0], p);
        }
        MachineConfig m = MachineConfig.of(name, MachineSpec.parse(machine));
        Daemon d = Daemon.start(new DaemonConfig(List.of(SocketAddress.parse("unix:" + sock)), List.of(file("disk0", img)),
                incoming ? m.withIncoming("defer").withStartPaused(true) : m));
        closing.add(d);
        QmpClient c = QmpClient.connect("unix:" + sock);
        closing.add(c);
        return new Side(c, null);
    }

    private static List<String> jobStatuses(Side s) {
        List<String> out = new ArrayList<>();
        for (JsonNode j : s.exec("query-jobs", null)) {
            out.add(j.get("id").asText() + ":" + j.get("status").asText());
        }
        return out;
    }

    private void awaitJobs(Side s, String... expected) {
        await().atMost(TestTimeouts.LONG).until(() -> jobStatuses(s).equals(List.of(expected)));
    }

    /** The source runs on, on its own unchanged disk, and no job is left running. */
    private void assertSourceSafe(Side src) {
        await().atMost(TestTimeouts.MEDIUM).until(() -> jobStatuses(src).stream()
                .allMatch(j -> j.endsWith(":concluded") || j.endsWith(":null")));
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.status().equals("running"));
        assertThat(src.migration()).isIn("none", "failed", "cancelled");
        // The workload writes the disk too: stopped, the machine's disk must be the source image itself (no pivot).
        src.exec("stop", null);
        assertThat(src.exec("query-machine-digest", null).get("disks").get("disk0").asText())
                .as("the machine's disk is still the source image").isEqualTo(sha256(srcImg));
        src.exec("cont", null);
        assertThat(src.exec("query-named-block-nodes", null).toString()).doesNotContain("mirror_top");
    }

    /** The destination never ran the guest, discarded, and takes a whole migration from a new source, verified by digest. */
    private void assertDestinationSafe(Side dst) throws Exception {
        // It noticed (failed), or never got a connection (a mirror alone: still setup or none).
        await().atMost(TestTimeouts.MEDIUM).until(() -> !List.of("active", "device", "pre-switchover").contains(dst.migration()));
        assertThat(dst.status()).as("the destination never runs a guest it did not get whole").isEqualTo("inmigrate");
        Side again = side("src2", false, srcImg, false);
        dst.exec("migrate-incoming", "{'uri':'unix:" + dir.resolve("in2.sock") + "'}");
        again.exec("migrate", "{'uri':'unix:" + dir.resolve("in2.sock") + "'}");
        await().atMost(TestTimeouts.LONG).until(() -> again.migration().equals("completed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("paused"));
        assertThat(dst.exec("query-machine-digest", null).get("ram")).isEqualTo(again.exec("query-machine-digest", null).get("ram"));
    }

    @ParameterizedTest(name = "{0}: kill -9 of the {1} in {2}")
    @CsvSource({
            "migration, destination, setup",
            "migration, destination, bulk",
            "migration, source, bulk",
            "migration, destination, pending",
            "migration, source, pending",
            "mirror, destination, bulk",
            "mirror, destination, ready",
            "mirror, source, ready",
            "joint, destination, ready",
            "joint, source, pending"})
    void theSurvivorIsSafe(String operation, String victim, String phase) throws Exception {
        boolean killSource = victim.equals("source");
        Side dst = side("dst", !killSource, dstImg, true);
        Side src = side("src", killSource, srcImg, false);
        Path in = dir.resolve("in.sock");
        Path nbd = dir.resolve("nbd.sock");
        String mig = "{'uri':'unix:" + in + "'}";
        src.exec("migrate-set-capabilities", "{'capabilities':[{'capability':'pause-before-switchover','state':"
                + phase.equals("pending") + "}]}");
        if (!operation.equals("migration")) {
            dst.exec("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + nbd + "'}}}");
            dst.exec("block-export-add", "{'type':'nbd','id':'e0','node-name':'disk0','writable':true}");
            src.exec("blockdev-add", "{'driver':'nbd','node-name':'remote0','server':{'type':'unix','path':'" + nbd
                    + "'},'export':'disk0'}");
        }
        if (!operation.equals("mirror")) {
            dst.exec("migrate-incoming", mig);
        }
        String slow = phase.equals("bulk") ? "1048576" : "0"; // bytes/s: a bulk phase lasts while the kill comes
        src.exec("migrate-set-parameters", "{'max-bandwidth':" + slow + "}");
        if (phase.equals("bulk")) {
            // A limit no switchover can meet (its measured fixed cost is above 0): a machine that has
            // written few pages yet would otherwise converge in its first short pass, before the kill.
            src.exec("migrate-set-parameters", "{'downtime-limit':0}");
        }
        switch (operation) {
            case "migration" -> {
                if (phase.equals("setup")) {
                    dst.kill9(); // before the source connects: the connect fails
                    src.exec("migrate", mig);
                    await().atMost(TestTimeouts.MEDIUM).until(() -> src.migration().equals("failed"));
                    assertSourceSafe(src);
                    return;
                }
                src.exec("migrate", mig);
                if (phase.equals("bulk")) {
                    await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migration().equals("active"));
                } else {
                    await().atMost(TestTimeouts.LONG).until(() -> src.migration().equals("pre-switchover"));
                }
            }
            case "mirror" -> {
                src.exec("blockdev-mirror", "{'job-id':'m0','device':'disk0','target':'remote0','sync':'full','speed':" + slow
                        + "}");
                if (phase.equals("bulk")) {
                    awaitJobs(src, "m0:running");
                } else {
                    awaitJobs(src, "m0:ready");
                }
            }
            default -> {
                src.exec("transaction", "{'actions':[{'type':'blockdev-mirror','data':{'job-id':'m0','device':'disk0',"
                        + "'target':'remote0','sync':'full'}},{'type':'migrate','data':{'uri':'unix:" + in
                        + "','job-id':'migration','auto-complete':false}}],'properties':{'completion-mode':'grouped'}}");
                await().atMost(TestTimeouts.LONG).until(() -> jobStatuses(src).stream().allMatch(j -> j.endsWith(":ready"))
                        && jobStatuses(src).size() == 2);
                if (phase.equals("pending")) {
                    src.exec("job-complete", "{'id':'migration'}");
                    await().atMost(TestTimeouts.LONG).until(() -> jobStatuses(src).stream().allMatch(j -> j.endsWith(":pending")));
                    assertThat(dst.status()).as("holds everything, runs nothing").isEqualTo("inmigrate");
                }
            }
        }
        if (killSource) {
            src.kill9();
            assertDestinationSafe(dst);
        } else {
            dst.kill9();
            if (phase.equals("pending") || phase.equals("ready")) {
                // The switchover's decision needs the destination: cancel is how management rolls back.
                for (JsonNode j : src.exec("query-jobs", null)) {
                    if (!j.get("status").asText().equals("concluded")) {
                        try {
                            src.exec("job-cancel", "{'id':'" + j.get("id").asText() + "'}");
                        } catch (RuntimeException e) {
                            // already ending on its own
                        }
                    }
                }
            }
            assertSourceSafe(src);
        }
    }

    /**
     * In postcopy the source holds the only full copy of the guest: its kill -9 loses the guest,
     * in QEMU too. The destination must not pretend otherwise: it stays postcopy-paused (a
     * recovery needs the source), says why, and never runs on pages it does not have.
     */
    @Test
    void theSourceKilledInPostcopyLeavesTheDestinationPausedWithAClearError() throws Exception {
        Side dst = side("dst", false, dstImg, true, UNCONVERGING_MACHINE);
        Side src = side("src", true, srcImg, false, UNCONVERGING_MACHINE);
        Path in = dir.resolve("in.sock");
        for (Side s : List.of(src, dst)) {
            s.exec("migrate-set-capabilities", "{'capabilities':[{'capability':'postcopy-ram','state':true}]}");
        }
        // The first pass takes seconds and postcopy far longer: the kill lands in postcopy-active.
        src.exec("migrate-set-parameters", "{'max-bandwidth':8388608,'max-postcopy-bandwidth':1048576}");
        dst.exec("migrate-incoming", "{'uri':'unix:" + in + "'}");
        src.exec("migrate", "{'uri':'unix:" + in + "'}");
        src.exec("migrate-start-postcopy", null); // switches at the end of the first pass
        await().atMost(TestTimeouts.LONG).until(() -> dst.migration().equals("postcopy-active"));

        src.kill9();
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migration().equals("postcopy-paused"));
        JsonNode info = dst.exec("query-migrate", null);
        assertThat(info.get("error-desc").asText()).contains("ended in postcopy (the source is gone or paused)");
        assertThat(dst.status()).as("-S: the guest never ran, and it cannot run without its pages").isEqualTo("paused");
        assertThat(dst.exec("query-migrate", null).get("status").asText()).as("still waiting for a recovery")
                .isEqualTo("postcopy-paused");
    }
}
