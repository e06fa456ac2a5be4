package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.block.BlockBackend;
import dev.converge.block.BlockNode;
import dev.converge.testing.TestTimeouts;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The mirror through each state: complete, cancel before and after ready, pause, speed, manual finalize. */
class MirrorLifecycleTest {
    static final int SIZE = 4 << 20;

    @TempDir
    Path dir;
    MirrorFixture f;
    byte[] data;

    @BeforeEach
    void setUp() throws Exception {
        f = new MirrorFixture(dir);
        f.image("src", SIZE);
        f.image("tgt", SIZE);
        data = new byte[3 << 20]; // the last MiB stays a hole
        new Random(1).nextBytes(data);
        MirrorFixture.write(f.node("src"), 0, data);
    }

    @AfterEach
    void tearDown() throws Exception {
        f.close();
    }

    private void mirror(String id, String extra) {
        f.qmp("blockdev-mirror", "{'job-id':'" + id + "','device':'src','target':'tgt','sync':'full'" + extra + "}");
    }

    private boolean nodeExists(String name) {
        return f.mainLoop.call(() -> f.graph.find(name).isPresent());
    }

    @Test
    void completePivotsAndEventsComeInQemusOrder() throws Exception {
        BlockBackend disk = f.attach("disk0", "src");
        mirror("m", ",'filter-node-name':'mtop'");
        assertThat(nodeExists("mtop")).isTrue();
        assertThat(f.mainLoop.call(disk::node).nodeName()).isEqualTo("mtop");
        f.events.await("BLOCK_JOB_READY", "m");
        assertThat(f.queryJob("m").path("status").asText()).isIn("ready");
        f.qmp("job-complete", "{'id':'m'}");
        f.events.awaitStatus("m", "null");
        assertThat(f.events.trace("m")).containsExactly("created", "running", "ready", "BLOCK_JOB_READY", "waiting",
                "pending", "BLOCK_JOB_COMPLETED", "concluded", "null");
        var ready = f.events.await("BLOCK_JOB_READY", "m").data();
        assertThat(ready.path("len").asLong()).isEqualTo(SIZE);
        assertThat(ready.path("offset").asLong()).isEqualTo(SIZE);
        assertThat(ready.path("type").asText()).isEqualTo("mirror");
        assertThat(f.mainLoop.call(disk::node).nodeName()).isEqualTo("tgt");
        assertThat(nodeExists("mtop")).as("filter removed").isFalse();
        BlockNode src = f.node("src");
        assertThat(src.dirtyBitmaps()).as("job bitmap removed").isEmpty();
        assertThat(MirrorFixture.readAll(f.node("tgt"))).isEqualTo(MirrorFixture.readAll(src));
        // the user of the source writes to the target now
        byte[] later = new byte[4096];
        new Random(2).nextBytes(later);
        disk.write(8192, java.lang.foreign.MemorySegment.ofArray(later), java.util.Set.of());
        byte[] tgt = MirrorFixture.readAll(f.node("tgt"));
        assertThat(java.util.Arrays.copyOfRange(tgt, 8192, 8192 + 4096)).isEqualTo(later);
        assertThat(java.util.Arrays.copyOfRange(MirrorFixture.readAll(src), 8192, 8192 + 4096))
                .isEqualTo(java.util.Arrays.copyOfRange(data, 8192, 8192 + 4096));
        f.mainLoop.call(() -> {
            f.graph.detachBackend(disk);
            return null;
        });
        f.qmp("blockdev-del", "{'node-name':'src'}"); // the source is free after the pivot
    }

    @Test
    void manualFinalizeAndDismissSendPendingAfterStatusChange() {
        mirror("m", ",'auto-finalize':false,'auto-dismiss':false");
        f.events.await("BLOCK_JOB_READY", "m");
        f.qmp("block-job-complete", "{'device':'m'}");
        f.events.await("BLOCK_JOB_PENDING", "m");
        var q = f.qmp("query-block-jobs", "{}").get(0);
        assertThat(q.path("status").asText()).isEqualTo("pending");
        assertThat(q.path("auto-finalize").asBoolean()).isFalse();
        f.qmp("block-job-finalize", "{'id':'m'}");
        assertThat(f.queryJob("m").path("status").asText()).isEqualTo("concluded");
        f.qmp("block-job-dismiss", "{'id':'m'}");
        assertThat(f.events.trace("m")).containsExactly("created", "running", "ready", "BLOCK_JOB_READY", "waiting",
                "pending", "BLOCK_JOB_PENDING", "BLOCK_JOB_COMPLETED", "concluded", "null");
        assertThat(f.qmp("query-block-jobs", "{}")).isEmpty();
    }

    @Test
    void cancelBeforeReadyAbortsWithoutPivot() throws Exception {
        BlockBackend disk = f.attach("disk0", "src");
        mirror("m", ",'speed':65536");
        await().atMost(TestTimeouts.MEDIUM).until(() -> f.queryJob("m").path("current-progress").asLong() > 0);
        f.qmp("block-job-cancel", "{'device':'m'}"); // soft, but not ready: aborts
        f.events.awaitStatus("m", "null");
        assertThat(f.events.trace("m")).containsExactly("created", "running", "aborting", "BLOCK_JOB_CANCELLED",
                "concluded", "null");
        assertThat(f.mainLoop.call(disk::node).nodeName()).isEqualTo("src");
        assertThat(f.node("src").dirtyBitmaps()).isEmpty();
        assertThat(f.node("src").parents()).hasSize(1);
    }

    @Test
    void softCancelAfterReadyCompletesWithoutPivot() throws Exception {
        BlockBackend disk = f.attach("disk0", "src");
        mirror("m", "");
        f.events.await("BLOCK_JOB_READY", "m");
        f.qmp("block-job-cancel", "{'device':'m'}");
        f.events.awaitStatus("m", "null");
        assertThat(f.events.trace("m")).containsExactly("created", "running", "ready", "BLOCK_JOB_READY", "waiting",
                "pending", "BLOCK_JOB_COMPLETED", "concluded", "null");
        assertThat(f.events.await("BLOCK_JOB_COMPLETED", "m").data().has("error")).isFalse();
        assertThat(f.mainLoop.call(disk::node).nodeName()).isEqualTo("src");
        assertThat(MirrorFixture.readAll(f.node("tgt"))).isEqualTo(MirrorFixture.readAll(f.node("src")));
    }

    @Test
    void forceCancelAfterReadyAborts() throws Exception {
        BlockBackend disk = f.attach("disk0", "src");
        mirror("m", ",'auto-dismiss':false");
        f.events.await("BLOCK_JOB_READY", "m");
        f.qmp("block-job-cancel", "{'device':'m','force':true}");
        f.events.awaitStatus("m", "concluded");
        assertThat(f.events.trace("m")).containsExactly("created", "running", "ready", "BLOCK_JOB_READY", "aborting",
                "BLOCK_JOB_CANCELLED", "concluded");
        assertThat(f.queryJob("m").path("error").asText()).isEqualTo("Operation canceled");
        var q = f.qmp("query-block-jobs", "{}").get(0);
        assertThat(q.path("error").asText()).isEqualTo("Operation canceled");
        assertThat(q.path("status").asText()).isEqualTo("concluded");
        assertThat(f.mainLoop.call(disk::node).nodeName()).isEqualTo("src");
        f.qmp("job-dismiss", "{'id':'m'}");
    }

    @Test
    void forceCancelWhilePausedAborts() throws Exception {
        BlockBackend disk = f.attach("disk0", "src");
        mirror("m", ",'speed':65536");
        f.qmp("block-job-pause", "{'device':'m'}");
        f.events.awaitStatus("m", "paused");
        f.qmp("block-job-cancel", "{'device':'m','force':true}");
        f.events.awaitStatus("m", "null");
        assertThat(f.events.trace("m")).containsExactly("created", "running", "paused", "running", "aborting",
                "BLOCK_JOB_CANCELLED", "concluded", "null");
        assertThat(f.mainLoop.call(disk::node).nodeName()).isEqualTo("src");
    }

    @Test
    void forceCancelInPendingAbortsWithoutPivot() throws Exception {
        BlockBackend disk = f.attach("disk0", "src");
        mirror("m", ",'auto-finalize':false");
        f.events.await("BLOCK_JOB_READY", "m");
        f.qmp("job-complete", "{'id':'m'}");
        f.events.await("BLOCK_JOB_PENDING", "m");
        f.qmp("block-job-cancel", "{'device':'m','force':true}");
        f.events.awaitStatus("m", "null");
        assertThat(f.events.trace("m")).containsSubsequence("pending", "BLOCK_JOB_PENDING", "aborting",
                "BLOCK_JOB_CANCELLED", "concluded", "null");
        assertThat(f.mainLoop.call(disk::node).nodeName()).as("no pivot").isEqualTo("src");
        // the filter was drained from the switchover until the abort: the user can write again
        disk.write(0, java.lang.foreign.MemorySegment.ofArray(new byte[512]), java.util.Set.of());
    }

    @Test
    void pauseResumeAndSpeed() {
        mirror("m", ",'speed':65536");
        await().atMost(TestTimeouts.MEDIUM).until(() -> f.queryJob("m").path("current-progress").asLong() > 0);
        f.qmp("block-job-pause", "{'device':'m'}");
        f.events.awaitStatus("m", "paused");
        var q = f.qmp("query-block-jobs", "{}").get(0);
        assertThat(q.path("paused").asBoolean()).isTrue();
        assertThat(q.path("busy").asBoolean()).isFalse();
        assertThat(q.path("speed").asLong()).isEqualTo(65536);
        assertThat(q.path("ready").asBoolean()).isFalse();
        // paused with nothing in flight: progress stands still
        long at = f.queryJob("m").path("current-progress").asLong();
        assertThat(f.queryJob("m").path("bytes-in-flight").asLong()).isZero();
        f.fails("block-job-cancel", "{'device':'m'}", "The block job for device 'm' is currently paused");
        f.fails("block-job-pause", "{'device':'m'}", "Job is already paused");
        assertThat(f.queryJob("m").path("current-progress").asLong()).isEqualTo(at);
        assertThat(at).as("the speed limit holds the job back").isLessThan(SIZE);
        f.qmp("block-job-resume", "{'device':'m'}");
        f.fails("block-job-resume", "{'device':'m'}", "Can't resume a job that was not paused");
        f.qmp("block-job-set-speed", "{'device':'m','speed':0}");
        f.events.await("BLOCK_JOB_READY", "m");
        assertThat(f.events.trace("m")).containsSubsequence("running", "paused", "running", "ready");
        f.qmp("block-job-pause", "{'device':'m'}");
        f.events.awaitStatus("m", "standby");
        f.qmp("job-complete", "{'id':'m'}"); // accepted in standby, takes effect on resume
        f.qmp("job-resume", "{'id':'m'}");
        f.events.awaitStatus("m", "null");
        assertThat(f.events.trace("m")).containsSubsequence("ready", "standby", "ready", "waiting", "pending",
                "BLOCK_JOB_COMPLETED");
    }

    @Test
    void jobChangeCopyMode() {
        mirror("m", ",'speed':65536");
        f.fails("job-change", "{'id':'m','copy-mode':'background'}",
                "Change to copy mode 'background' is not implemented");
        f.qmp("job-change", "{'id':'m','type':'mirror','copy-mode':'write-blocking'}");
        assertThat(f.queryJob("m").path("copy-mode").asText()).isEqualTo("write-blocking");
        f.fails("job-change", "{'id':'m','copy-mode':'write-blocking'}",
                "Expected current copy mode 'background', got 'write-blocking'");
        f.qmp("block-job-set-speed", "{'device':'m','speed':0}");
        f.events.await("BLOCK_JOB_READY", "m");
        assertThat(f.queryJob("m").path("actively-synced").asBoolean()).isTrue();
        f.qmp("block-job-cancel", "{'device':'m','force':true}");
        f.events.awaitStatus("m", "null");
    }

    @Test
    void syncNoneCopiesOnlyNewWrites() throws Exception {
        BlockBackend disk = f.attach("disk0", "src");
        mirror("m", "".replace("", "") + ",'sync':'none'".substring(0, 0));
        f.events.await("BLOCK_JOB_READY", "m");
        f.qmp("block-job-cancel", "{'device':'m','force':true}");
        f.events.awaitStatus("m", "null");
        f.qmp("blockdev-mirror", "{'job-id':'n','device':'src','target':'tgt','sync':'none'}");
        f.events.await("BLOCK_JOB_READY", "n");
        assertThat(List.of(f.queryJob("n").path("total-progress").asLong())).containsExactly(0L);
        byte[] w = new byte[1000];
        new Random(3).nextBytes(w);
        disk.write(SIZE - 5000, java.lang.foreign.MemorySegment.ofArray(w), java.util.Set.of());
        f.qmp("job-complete", "{'id':'n'}");
        f.events.awaitStatus("n", "null");
        byte[] t = MirrorFixture.readAll(f.node("tgt"));
        assertThat(java.util.Arrays.copyOfRange(t, SIZE - 5000, SIZE - 4000)).isEqualTo(w);
    }
}
