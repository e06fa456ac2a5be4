package dev.converge.daemon.joint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.PatternWorkload;
import dev.converge.migration.qmp.MachineConfig;
import dev.converge.qmp.client.QmpCommandException;
import dev.converge.testing.TestTimeouts;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The joint switchover end to end: two daemons in-process (source and destination, on
 * loopback), one grouped QMP transaction of blockdev-mirror (the machine's disk) and migrate
 * (its memory), verified by digests at the switchover point; and its rollbacks.
 * <p>
 * <b>Disk transport.</b> The daemon does not wire converge-nbd yet, so here the source mirrors
 * into a local file node ({@code tgt0} on {@code dst.img}) and the destination daemon's disk is
 * a file node on the same {@code dst.img}: nothing on the destination reads or writes it before
 * its machine runs (after the transaction), and file nodes use pread/pwrite without a cache,
 * so the destination sees exactly what the mirror wrote. {@link JointNbdTest} is the same
 * scenario with the source mirroring into an {@code nbd} node exported by the destination; it
 * runs once the daemon serves nbd-server-start.
 */
@Tag("integration")
class JointTransactionTest {
    static final String SPEC = "memory=64M,vcpus=2,workload=pattern,dirty-rate=16M,disk=disk0";
    static final int DISK = 16 << 20;

    @TempDir
    Path dir;
    Path srcImg;
    Path dstImg;
    final List<JointPeer> peers = new ArrayList<>();

    @BeforeEach
    void images() throws Exception {
        srcImg = dir.resolve("src.img");
        dstImg = dir.resolve("dst.img");
        byte[] data = new byte[DISK];
        new Random(11).nextBytes(data);
        Files.write(srcImg, data);
        try (RandomAccessFile f = new RandomAccessFile(dstImg.toFile(), "rw")) {
            f.setLength(DISK);
        }
    }

    @AfterEach
    void close() {
        peers.reversed().forEach(JointPeer::close);
    }

    JointPeer source(String... extraBlockdevs) {
        List<String> b = new ArrayList<>(List.of(file("disk0", srcImg), file("tgt0", dstImg)));
        b.addAll(List.of(extraBlockdevs));
        JointPeer p = new JointPeer(dir, "src", MachineConfig.of("src", MachineSpec.parse(SPEC)), b.toArray(String[]::new));
        peers.add(p);
        p.exec("migrate-set-capabilities", "{'capabilities':[{'capability':'events','state':true}]}");
        return p;
    }

    JointPeer destination() {
        JointPeer p = new JointPeer(dir, "dst", MachineConfig.of("dst", MachineSpec.parse(SPEC))
                .withIncoming("tcp:127.0.0.1:0").withStartPaused(true), file("disk0", dstImg));
        peers.add(p);
        return p;
    }

    static String file(String node, Path img) {
        return "{\"driver\": \"file\", \"node-name\": \"" + node + "\", \"filename\": \"" + img + "\"}";
    }

    /** The grouped transaction: mirror0 (disk0 → target) and the migration, manual completion. */
    static void transaction(JointPeer src, String target, String uri, String mirrorExtra) {
        src.exec("transaction", "{'actions':["
                + "{'type':'blockdev-mirror','data':{'job-id':'mirror0','device':'disk0','target':'" + target
                + "','sync':'full','auto-dismiss':false" + mirrorExtra + "}},"
                + "{'type':'migrate','data':{'uri':'" + uri + "','job-id':'migration','auto-complete':false}}"
                + "],'properties':{'completion-mode':'grouped'}}");
    }

    static JsonNode job(JointPeer p, String id) {
        for (JsonNode j : p.exec("query-jobs")) {
            if (j.get("id").asText().equals(id)) {
                return j;
            }
        }
        return null;
    }

    static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    /** Commits the joint switchover; returns the source's events. Shared with the NBD variant. */
    static void commitAndVerify(JointPeer src, JointPeer dst) {
        // A mirror throttled to 2 MiB/s is not ready when the migration is: job-complete is refused, nothing changes.
        src.awaitJob("migration", "ready");
        assertThat(job(src, "mirror0").get("status").asText()).isEqualTo("running");
        assertThatThrownBy(() -> src.exec("job-complete", "{'id':'migration'}"))
                .isInstanceOfSatisfying(QmpCommandException.class, e -> assertThat(e.getMessage()).contains(
                        "Cannot switch over 'migration': mirror job 'mirror0' is not ready (status running)"));
        assertThat(job(src, "migration").get("status").asText()).isEqualTo("ready");
        assertThat(src.runState()).isEqualTo("running");

        src.exec("block-job-set-speed", "{'device':'mirror0','speed':0}");
        src.awaitJob("mirror0", "ready");
        // The user may not complete a mirror that the migration's switchover completes.
        assertThatThrownBy(() -> src.exec("job-complete", "{'id':'mirror0'}"))
                .hasMessageContaining("Job 'mirror0' is completed by the switchover of job 'migration'");
        src.exec("job-complete", "{'id':'migration'}");
        src.awaitJob("mirror0", "concluded");
        src.awaitJob("migration", "null");

        List<String> t = src.trace();
        // the vCPUs stop (STOP) after every job is ready and before any ends (QEMU shows no device status
        // without pause-before-switchover)
        int device = t.indexOf("STOP");
        int lastReady = Math.max(t.indexOf("migration:ready"), t.indexOf("mirror0:ready"));
        int lastWaiting = Math.max(t.indexOf("migration:waiting"), t.indexOf("mirror0:waiting"));
        int firstWaiting = Math.min(t.indexOf("migration:waiting"), t.indexOf("mirror0:waiting"));
        int firstPending = Math.min(t.indexOf("migration:pending"), t.indexOf("mirror0:pending"));
        int lastPending = Math.max(t.indexOf("migration:pending"), t.indexOf("mirror0:pending"));
        int completed = t.indexOf("MIGRATION:completed");
        int firstConcluded = Math.min(t.indexOf("migration:concluded"), t.indexOf("mirror0:concluded"));
        assertThat(List.of(lastReady, device, firstWaiting)).as("%s", t).isSorted();
        assertThat(List.of(lastWaiting, firstPending)).as("pending together, after every job ended: %s", t).isSorted();
        assertThat(List.of(lastPending, completed)).as("finalize after pending: %s", t).isSorted();
        assertThat(List.of(lastPending, firstConcluded)).as("finalize after pending: %s", t).isSorted();
        assertThat(firstWaiting).isPositive();
        assertThat(t).contains("BLOCK_JOB_COMPLETED:mirror0").doesNotContain("BLOCK_JOB_CANCELLED:mirror0");
        assertThat(job(src, "mirror0").has("error")).isFalse();

        // The switchover point: the source stopped for good, -S keeps the destination paused.
        assertThat(src.runState()).isEqualTo("postmigrate");
        assertThat(dst.runState()).isEqualTo("paused");
        JsonNode sd = src.exec("query-machine-digest");
        assertThat(sd.get("disks").has("disk0")).isTrue();
        assertThat(dst.exec("query-machine-digest")).isEqualTo(sd);
        PatternWorkload w = (PatternWorkload) dst.machine().workload();
        assertThat(w.checkInvariant(dst.machine().ram().blocks().get(0))).isEmpty();

        dst.exec("cont");
        assertThat(dst.runState()).isEqualTo("running");
        long p = w.progress();
        await().atMost(TestTimeouts.SHORT).until(() -> w.progress() > p + 100);
    }

    @Test
    void jointSwitchoverCommitsDisksAndMemoryTogether() {
        JointPeer dst = destination();
        JointPeer src = source();
        transaction(src, "tgt0", dst.listeningUri(), ",'speed':2097152");
        commitAndVerify(src, dst);
        // The source kept its own disk: no pivot, no filter left.
        assertThat(src.exec("query-named-block-nodes").toString()).doesNotContain("mirror_top");
    }

    @Test
    void aJointTransactionSwitchesOverIntoPostcopyAndTheMirrorCompletesAtTheStop() {
        JointPeer dst = destination();
        dst.exec("migrate-set-capabilities", "{'capabilities':[{'capability':'postcopy-ram','state':true}]}");
        JointPeer src = source();
        src.exec("migrate-set-capabilities", "{'capabilities':[{'capability':'postcopy-ram','state':true}]}");
        transaction(src, "tgt0", dst.listeningUri(), "");
        src.awaitJob("mirror0", "ready");
        src.exec("migrate-start-postcopy");
        src.awaitJob("mirror0", "concluded");
        src.awaitJob("migration", "null");

        List<String> t = src.trace();
        assertThat(t).contains("MIGRATION:postcopy-active", "BLOCK_JOB_COMPLETED:mirror0").doesNotContain("MIGRATION:device");
        // Disks and memory as they were when the source stopped (-S keeps the destination paused).
        assertThat(src.runState()).isEqualTo("postmigrate");
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
        PatternWorkload w = (PatternWorkload) dst.machine().workload();
        assertThat(w.checkInvariant(dst.machine().ram().blocks().get(0))).isEmpty();
    }

    /** The source runs on, on its own disk, with its memory intact; the destination discarded. */
    void assertSourceRunsOnIntact(JointPeer src, JointPeer dst) throws Exception {
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.runState().equals("running"));
        PatternWorkload w = (PatternWorkload) src.machine().workload();
        long p = w.progress();
        await().atMost(TestTimeouts.SHORT).until(() -> w.progress() > p + 100);
        src.exec("stop");
        assertThat(w.checkInvariant(src.machine().ram().blocks().get(0))).as("source memory").isEmpty();
        assertThat(src.exec("query-machine-digest").get("disks").get("disk0").asText())
                .as("the machine's disk is still the source image").isEqualTo(sha256(srcImg));
        assertThat(src.exec("query-named-block-nodes").toString()).doesNotContain("mirror_top");
        src.exec("cont");
        if (dst != null) {
            // A destination that got part of the stream fails it and discards; one the source never
            // reached (the transaction aborted before the migration connected) is still waiting.
            // Either way it never runs the guest.
            await().atMost(TestTimeouts.MEDIUM).until(() -> !List.of("active", "device", "pre-switchover")
                    .contains(dst.exec("query-migrate").path("status").asText()));
            assertThat(dst.exec("query-migrate").path("status").asText()).isNotEqualTo("completed");
            assertThat(dst.runState()).as("the destination discarded").isEqualTo("inmigrate");
        }
    }

    @Test
    void destinationDiesDuringTheTransaction() throws Exception {
        JointPeer dst = destination();
        JointPeer src = source();
        transaction(src, "tgt0", dst.listeningUri(), "");
        src.awaitJob("mirror0", "ready");
        src.awaitJob("migration", "ready");
        dst.close();
        src.awaitJob("mirror0", "concluded");
        src.awaitJob("migration", "null");
        assertThat(job(src, "mirror0").get("error").asText()).isEqualTo("Transaction aborted because job 'migration' failed");
        assertThat(src.exec("query-migrate").get("status").asText()).isEqualTo("failed");
        assertThat(src.exec("query-migrate").get("error-desc").asText()).contains("migration stream to the destination failed");
        assertSourceRunsOnIntact(src, null);
    }

    @Test
    void aMirrorTargetErrorAbortsEverything() throws Exception {
        JointPeer dst = destination();
        JointPeer src = source("{\"driver\": \"blkdebug\", \"node-name\": \"tdbg\", \"image\": \"tgt0\", "
                + "\"inject-error\": [{\"event\": \"write_aio\", \"errno\": 5, \"sector\": 2048}]}");
        transaction(src, "tdbg", dst.listeningUri(), "");
        src.awaitJob("mirror0", "concluded");
        src.awaitJob("migration", "null");
        assertThat(job(src, "mirror0").get("error").asText()).isEqualTo("Input/output error");
        assertThat(src.exec("query-migrate").get("error-desc").asText())
                .isEqualTo("Transaction aborted because job 'mirror0' failed");
        assertSourceRunsOnIntact(src, dst);
    }

    @Test
    void cancelOfTheMirrorAbortsEverything() throws Exception {
        JointPeer dst = destination();
        JointPeer src = source();
        transaction(src, "tgt0", dst.listeningUri(), "");
        src.awaitJob("mirror0", "ready");
        src.exec("job-cancel", "{'id':'mirror0'}");
        src.awaitJob("mirror0", "concluded");
        src.awaitJob("migration", "null");
        assertThat(job(src, "mirror0").get("error").asText()).isEqualTo("Operation canceled");
        assertThat(src.exec("query-migrate").get("status").asText()).isEqualTo("failed");
        assertThat(src.exec("query-migrate").get("error-desc").asText())
                .isEqualTo("Transaction aborted because job 'mirror0' was cancelled");
        assertSourceRunsOnIntact(src, dst);
    }

    @Test
    void cancelAfterTheSwitchoverInPendingRollsBackTheStoppedSource() throws Exception {
        JointPeer dst = destination();
        JointPeer src = source();
        src.exec("migrate-set-capabilities", "{'capabilities':[{'capability':'pause-before-switchover','state':true}]}");
        transaction(src, "tgt0", dst.listeningUri(), "");
        src.awaitJob("mirror0", "ready");
        src.awaitJob("migration", "ready");
        src.exec("job-complete", "{'id':'migration'}");
        src.awaitJob("mirror0", "pending");
        src.awaitJob("migration", "pending");
        // Everything is at the destination, nothing committed: the guest runs nowhere.
        assertThat(src.runState()).isEqualTo("finish-migrate");
        assertThat(dst.runState()).isEqualTo("inmigrate");
        src.exec("job-cancel", "{'id':'mirror0'}");
        src.awaitJob("mirror0", "concluded");
        src.awaitJob("migration", "null");
        assertThat(job(src, "mirror0").get("error").asText()).isEqualTo("Operation canceled");
        assertSourceRunsOnIntact(src, dst);
    }

    @Test
    void anInvalidActionRefusesTheWholeTransaction() {
        JointPeer dst = destination();
        JointPeer src = source();
        assertThatThrownBy(() -> src.exec("transaction", "{'actions':["
                + "{'type':'blockdev-mirror','data':{'job-id':'mirror0','device':'disk0','target':'tgt0','sync':'full'}},"
                + "{'type':'migrate','data':{'uri':'bogus:x'}}],'properties':{'completion-mode':'grouped'}}"))
                .hasMessageContaining("bogus");
        assertThat(src.exec("query-jobs")).isEmpty();
        assertThat(src.exec("query-migrate").path("status").asText("none")).isEqualTo("none");
        assertThat(src.exec("query-named-block-nodes").toString()).doesNotContain("mirror_top");
        // And the same transaction with a good URI then works.
        transaction(src, "tgt0", dst.listeningUri(), "");
        src.awaitJob("mirror0", "ready");
        src.exec("job-cancel", "{'id':'migration'}");
        src.awaitJob("migration", "null");
    }
}
