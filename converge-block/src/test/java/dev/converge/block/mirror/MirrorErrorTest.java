package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.testing.TestTimeouts;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** on-source-error and on-target-error with blkdebug failing reads of the source or writes of the target. */
class MirrorErrorTest {
    static final int SIZE = 2 << 20;

    @TempDir
    Path dir;
    MirrorFixture f;

    @BeforeEach
    void setUp() throws Exception {
        f = new MirrorFixture(dir);
        f.image("src", SIZE);
        f.image("tgt", SIZE);
        byte[] data = new byte[SIZE]; // all data: every copy is a read and a write
        new Random(5).nextBytes(data);
        MirrorFixture.write(f.node("src"), 0, data);
    }

    @AfterEach
    void tearDown() throws Exception {
        f.close();
    }

    private void blkdebug(String name, String image, String rules) {
        f.blkdebug(name, image, rules);
    }

    /** One operation in flight at a time, so errors come in offset order. */
    private void mirror(String device, String target, String extra) {
        f.qmp("blockdev-mirror", "{'job-id':'m','device':'" + device + "','target':'" + target
                + "','sync':'full','granularity':65536,'buf-size':65536" + extra + "}");
    }

    private long count(String event) {
        return f.count(event);
    }

    private void completeAndCheckCopy() throws Exception {
        f.events.await("BLOCK_JOB_READY", "m");
        f.qmp("job-complete", "{'id':'m'}");
        f.events.awaitStatus("m", "null");
        assertThat(f.events.await("BLOCK_JOB_COMPLETED", "m").data().has("error")).isFalse();
        assertThat(MirrorFixture.readAll(f.node("tgt"))).isEqualTo(MirrorFixture.readAll(f.node("src")));
    }

    @Test
    void targetErrorReportFailsTheJobWithTheFirstErrorOnly() {
        // sector 0 fails with ENOSPC first; every later write would fail with EIO
        blkdebug("tdbg", "tgt", "{'event':'write_aio','errno':28,'sector':0},{'event':'write_aio','errno':5}");
        mirror("src", "tdbg", "");
        f.events.awaitStatus("m", "null");
        assertThat(f.events.trace("m")).containsExactly("created", "running", "BLOCK_JOB_ERROR", "aborting",
                "BLOCK_JOB_COMPLETED", "concluded", "null");
        var err = f.events.await("BLOCK_JOB_ERROR", "m").data();
        assertThat(err.toString()).isEqualTo("{\"device\":\"m\",\"operation\":\"write\",\"action\":\"report\"}");
        assertThat(f.events.await("BLOCK_JOB_COMPLETED", "m").data().path("error").asText())
                .isEqualTo("No space left on device");
        assertThat(count("BLOCK_JOB_ERROR")).isEqualTo(1);
        assertThat(f.node("src").dirtyBitmaps()).isEmpty();
        assertThat(f.mainLoop.call(() -> f.graph.find("tdbg").orElseThrow().parents())).isEmpty();
    }

    @Test
    void sourceErrorReport() {
        blkdebug("sdbg", "src", "{'event':'read_aio','errno':5,'once':true}");
        mirror("sdbg", "tgt", ",'on-target-error':'ignore'");
        f.events.awaitStatus("m", "null");
        assertThat(f.events.await("BLOCK_JOB_ERROR", "m").data().toString())
                .isEqualTo("{\"device\":\"m\",\"operation\":\"read\",\"action\":\"report\"}");
        assertThat(f.events.await("BLOCK_JOB_COMPLETED", "m").data().path("error").asText())
                .isEqualTo("Input/output error");
    }

    @Test
    void ignoreLeavesTheRangeDirtyAndGoesOn() throws Exception {
        blkdebug("tdbg", "tgt", "{'event':'write_aio','errno':5,'once':true}");
        mirror("src", "tdbg", ",'on-target-error':'ignore'");
        completeAndCheckCopy();
        assertThat(f.events.await("BLOCK_JOB_ERROR", "m").data().path("action").asText()).isEqualTo("ignore");
        assertThat(count("BLOCK_JOB_ERROR")).isEqualTo(1);
    }

    @Test
    void sourceIgnore() throws Exception {
        blkdebug("sdbg", "src", "{'event':'read_aio','errno':5,'once':true}");
        mirror("sdbg", "tgt", ",'on-source-error':'ignore'");
        completeAndCheckCopy();
        assertThat(f.events.await("BLOCK_JOB_ERROR", "m").data().path("operation").asText()).isEqualTo("read");
    }

    @Test
    void stopPausesUntilResumeThenRetries() throws Exception {
        blkdebug("tdbg", "tgt", "{'event':'write_aio','errno':5,'once':true}");
        mirror("src", "tdbg", ",'on-target-error':'stop'");
        f.events.awaitStatus("m", "paused");
        assertThat(f.events.trace("m")).containsExactly("created", "running", "BLOCK_JOB_ERROR", "paused");
        assertThat(f.events.await("BLOCK_JOB_ERROR", "m").data().path("action").asText()).isEqualTo("stop");
        var q = f.qmp("query-block-jobs", "{}").get(0);
        assertThat(q.path("io-status").asText()).isEqualTo("failed");
        assertThat(q.path("paused").asBoolean()).isTrue();
        assertThat(q.path("status").asText()).isEqualTo("paused");
        f.qmp("block-job-resume", "{'device':'m'}");
        completeAndCheckCopy();
        assertThat(f.events.trace("m")).containsSubsequence("BLOCK_JOB_ERROR", "paused", "running", "ready");
    }

    @Test
    void enospcStopsOnNoSpace() throws Exception {
        blkdebug("tdbg", "tgt", "{'event':'write_aio','errno':28,'once':true}");
        mirror("src", "tdbg", ",'on-target-error':'enospc'");
        f.events.awaitStatus("m", "paused");
        assertThat(f.qmp("query-block-jobs", "{}").get(0).path("io-status").asText()).isEqualTo("nospace");
        f.qmp("job-resume", "{'id':'m'}");
        // the io-status is reset when the job leaves its pause point
        await().atMost(TestTimeouts.MEDIUM).until(() -> f.events.trace("m").lastIndexOf("running") > f.events
                .trace("m").indexOf("paused")
                && f.qmp("query-block-jobs", "{}").get(0).path("io-status").asText().equals("ok"));
        completeAndCheckCopy();
    }

    @Test
    void enospcReportsOtherErrors() {
        blkdebug("tdbg", "tgt", "{'event':'write_aio','errno':5,'once':true}");
        mirror("src", "tdbg", ",'on-target-error':'enospc'");
        f.events.awaitStatus("m", "null");
        assertThat(f.events.await("BLOCK_JOB_ERROR", "m").data().path("action").asText()).isEqualTo("report");
        assertThat(f.events.await("BLOCK_JOB_COMPLETED", "m").data().path("error").asText())
                .isEqualTo("Input/output error");
    }

    @Test
    void policyDecisions() {
        assertThat(BlockdevOnError.ENOSPC.decide(28)).isEqualTo(BlockErrorAction.STOP);
        assertThat(BlockdevOnError.ENOSPC.decide(5)).isEqualTo(BlockErrorAction.REPORT);
        assertThat(BlockdevOnError.STOP.decide(5)).isEqualTo(BlockErrorAction.STOP);
        assertThat(BlockdevOnError.IGNORE.decide(28)).isEqualTo(BlockErrorAction.IGNORE);
        assertThat(BlockdevOnError.REPORT.decide(28)).isEqualTo(BlockErrorAction.REPORT);
        assertThat(BlockdevOnError.AUTO.decide(5)).isEqualTo(BlockErrorAction.REPORT);
    }
}
