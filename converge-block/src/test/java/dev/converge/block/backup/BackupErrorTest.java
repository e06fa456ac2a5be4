package dev.converge.block.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.block.mirror.MirrorFixture;
import dev.converge.testing.TestTimeouts;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The backup's on-source-error and on-target-error with blkdebug failing reads of the source or
 * writes of the target: QEMU's BLOCK_JOB_ERROR, report failing the job, ignore retrying, stop
 * (and enospc on ENOSPC) pausing the job as a user pause with its io-status until it is resumed;
 * every backup that ends well holds the source.
 */
class BackupErrorTest {
    static final int SIZE = 2 << 20;

    @TempDir
    Path dir;
    MirrorFixture f;
    byte[] data;

    @BeforeEach
    void setUp() throws Exception {
        f = new MirrorFixture(dir);
        f.image("src", SIZE);
        f.image("tgt", SIZE);
        data = new byte[SIZE]; // all data: every copy is a read and a write
        new Random(5).nextBytes(data);
        MirrorFixture.write(f.node("src"), 0, data);
    }

    @AfterEach
    void tearDown() throws Exception {
        f.close();
    }

    private void backup(String device, String target, String extra) {
        f.qmp("blockdev-backup", "{'job-id':'b','device':'" + device + "','target':'" + target + "','sync':'full'"
                + extra + "}");
    }

    private void completesWithTheSource() throws Exception {
        var done = f.events.await("BLOCK_JOB_COMPLETED", "b");
        assertThat(done.data().has("error")).as("%s", done).isFalse();
        f.events.awaitStatus("b", "null");
        assertThat(MirrorFixture.readAll(f.node("tgt"))).isEqualTo(data);
    }

    private com.fasterxml.jackson.databind.JsonNode blockJob() {
        return f.qmp("query-block-jobs", "{}").get(0);
    }

    @Test
    void targetErrorReportFailsTheJob() {
        f.blkdebug("tdbg", "tgt", "{'event':'write_aio','errno':5,'once':true}");
        backup("src", "tdbg", "");
        var done = f.events.await("BLOCK_JOB_COMPLETED", "b");
        assertThat(done.data().path("error").asText()).isEqualTo("Input/output error");
        assertThat(f.events.await("BLOCK_JOB_ERROR", "b").data().toString())
                .isEqualTo("{\"device\":\"b\",\"operation\":\"write\",\"action\":\"report\"}");
        f.events.awaitStatus("b", "null");
        assertThat(f.events.trace("b")).containsSubsequence("running", "BLOCK_JOB_ERROR", "aborting",
                "BLOCK_JOB_COMPLETED", "concluded", "null");
    }

    @Test
    void sourceErrorReportFailsTheJob() {
        f.blkdebug("sdbg", "src", "{'event':'read_aio','errno':5,'once':true}");
        backup("sdbg", "tgt", ",'on-target-error':'ignore'");
        assertThat(f.events.await("BLOCK_JOB_COMPLETED", "b").data().path("error").asText())
                .isEqualTo("Input/output error");
        assertThat(f.events.await("BLOCK_JOB_ERROR", "b").data().toString())
                .isEqualTo("{\"device\":\"b\",\"operation\":\"read\",\"action\":\"report\"}");
    }

    @Test
    void targetIgnoreRetriesAndCompletes() throws Exception {
        f.blkdebug("tdbg", "tgt", "{'event':'write_aio','errno':5,'once':true}");
        backup("src", "tdbg", ",'on-target-error':'ignore'");
        completesWithTheSource();
        assertThat(f.events.await("BLOCK_JOB_ERROR", "b").data().toString())
                .isEqualTo("{\"device\":\"b\",\"operation\":\"write\",\"action\":\"ignore\"}");
        assertThat(f.count("BLOCK_JOB_ERROR")).isEqualTo(1);
    }

    @Test
    void sourceIgnoreRetriesAndCompletes() throws Exception {
        f.blkdebug("sdbg", "src", "{'event':'read_aio','errno':5,'once':true}");
        backup("sdbg", "tgt", ",'on-source-error':'ignore'");
        completesWithTheSource();
        assertThat(f.events.await("BLOCK_JOB_ERROR", "b").data().path("operation").asText()).isEqualTo("read");
        assertThat(f.events.await("BLOCK_JOB_ERROR", "b").data().path("action").asText()).isEqualTo("ignore");
    }

    @Test
    void targetStopPausesUntilResumeThenRetries() throws Exception {
        f.blkdebug("tdbg", "tgt", "{'event':'write_aio','errno':5,'once':true}");
        backup("src", "tdbg", ",'on-target-error':'stop'");
        f.events.awaitStatus("b", "paused");
        assertThat(f.events.await("BLOCK_JOB_ERROR", "b").data().toString())
                .isEqualTo("{\"device\":\"b\",\"operation\":\"write\",\"action\":\"stop\"}");
        var q = blockJob();
        assertThat(q.path("io-status").asText()).isEqualTo("failed");
        assertThat(q.path("paused").asBoolean()).isTrue();
        assertThat(q.path("status").asText()).isEqualTo("paused");
        f.qmp("block-job-resume", "{'device':'b'}");
        completesWithTheSource();
        assertThat(f.events.trace("b")).containsSubsequence("BLOCK_JOB_ERROR", "paused", "running",
                "BLOCK_JOB_COMPLETED");
    }

    @Test
    void sourceStopPausesUntilResumeThenRetries() throws Exception {
        f.blkdebug("sdbg", "src", "{'event':'read_aio','errno':5,'once':true}");
        backup("sdbg", "tgt", ",'on-source-error':'stop'");
        f.events.awaitStatus("b", "paused");
        assertThat(f.events.await("BLOCK_JOB_ERROR", "b").data().toString())
                .isEqualTo("{\"device\":\"b\",\"operation\":\"read\",\"action\":\"stop\"}");
        assertThat(blockJob().path("io-status").asText()).isEqualTo("failed");
        f.qmp("job-resume", "{'id':'b'}");
        completesWithTheSource();
    }

    @Test
    void enospcStopsOnNoSpaceAndResumes() throws Exception {
        f.blkdebug("tdbg", "tgt", "{'event':'write_aio','errno':28,'once':true}");
        backup("src", "tdbg", ",'on-target-error':'enospc'");
        f.events.awaitStatus("b", "paused");
        assertThat(blockJob().path("io-status").asText()).isEqualTo("nospace");
        assertThat(f.events.await("BLOCK_JOB_ERROR", "b").data().path("action").asText()).isEqualTo("stop");
        f.qmp("job-resume", "{'id':'b'}");
        // the io-status is ok again once the job left its pause point
        await().atMost(TestTimeouts.MEDIUM).until(() -> f.events.trace("b").lastIndexOf("running")
                > f.events.trace("b").indexOf("paused"));
        completesWithTheSource();
    }

    @Test
    void enospcReportsOtherErrors() {
        f.blkdebug("tdbg", "tgt", "{'event':'write_aio','errno':5,'once':true}");
        backup("src", "tdbg", ",'on-target-error':'enospc'");
        assertThat(f.events.await("BLOCK_JOB_COMPLETED", "b").data().path("error").asText())
                .isEqualTo("Input/output error");
        assertThat(f.events.await("BLOCK_JOB_ERROR", "b").data().path("action").asText()).isEqualTo("report");
    }
}
