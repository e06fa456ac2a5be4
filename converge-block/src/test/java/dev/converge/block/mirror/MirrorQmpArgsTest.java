package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.qmp.ErrorClass;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** blockdev-mirror's and the block-job commands' argument errors, with the texts qemu-storage-daemon 7.2 gives. */
class MirrorQmpArgsTest {
    @TempDir
    Path dir;
    MirrorFixture f;

    @BeforeEach
    void setUp() throws Exception {
        f = new MirrorFixture(dir);
        f.image("src", 1 << 20);
        f.image("tgt", 1 << 20);
        f.image("small", 512 << 10);
        f.image("other", 512 << 10);
    }

    @AfterEach
    void tearDown() throws Exception {
        f.close();
    }

    private void mirrorFails(String args, String desc) {
        f.fails("blockdev-mirror", "{" + args + "}", desc);
        assertThat(f.engine.jobs()).as("nothing started").isEmpty();
        assertThat(f.node("src").parents()).as("no filter left").isEmpty();
        assertThat(f.node("src").dirtyBitmaps()).as("no bitmap left").isEmpty();
    }

    @Test
    void blockdevMirrorErrors() {
        String ok = "'job-id':'j','device':'src','target':'tgt','sync':'full'";
        mirrorFails("'device':'src','target':'tgt','sync':'full'", "Invalid job ID ''");
        mirrorFails("'job-id':'j','device':'nosuch','target':'tgt','sync':'full'",
                "Cannot find device='nosuch' nor node-name='nosuch'");
        mirrorFails("'job-id':'j','device':'src','target':'nosuch','sync':'full'",
                "Cannot find device='nosuch' nor node-name='nosuch'");
        mirrorFails(ok + ",'granularity':1000", "Parameter 'granularity' expects a power of 2");
        mirrorFails(ok + ",'granularity':256", "Parameter 'granularity' expects a value in range [512B, 64MB]");
        mirrorFails(ok + ",'granularity':134217728", "Parameter 'granularity' expects a value in range [512B, 64MB]");
        mirrorFails(ok + ",'buf-size':-1", "Invalid parameter 'buf-size'");
        mirrorFails(ok + ",'speed':-1", "Parameter 'speed' expects a non-negative value");
        mirrorFails("'job-id':'j','device':'src','target':'tgt','sync':'incremental'",
                "Sync mode 'incremental' not supported");
        mirrorFails("'job-id':'1j','device':'src','target':'tgt','sync':'full'", "Invalid job ID '1j'");
        mirrorFails("'job-id':'j','device':'src','target':'src','sync':'full'", "Can't mirror node into itself");
        mirrorFails(ok + ",'replaces':'x'", "Failed to find node with node-name='x'");
        mirrorFails(ok + ",'replaces':'tgt'", "Cannot replace 'tgt' by a node mirrored from 'src', because it cannot "
                + "be guaranteed that doing so would not lead to an abrupt change of visible data");
        mirrorFails(ok + ",'filter-node-name':'src'", "Duplicate nodes with node-name='src'");
        mirrorFails(ok + ",'filter-node-name':'9x'", "Invalid node-name: '9x'");
    }

    @Test
    void busyNodesAndIdsInUse() {
        f.qmp("blockdev-mirror", "{'job-id':'j','device':'src','target':'tgt','sync':'full','speed':1,"
                + "'replaces':'src','filter-node-name':'mt'}");
        f.fails("blockdev-mirror", "{'job-id':'k','device':'src','target':'small','sync':'full'}",
                "Need a root block node");
        f.fails("blockdev-mirror", "{'job-id':'k','device':'small','target':'src','sync':'full'}",
                "Node 'src' is busy: block device is in use by block job: mirror");
        f.fails("blockdev-mirror", "{'job-id':'j','device':'small','target':'other','sync':'full'}",
                "Job ID 'j' already in use");
        assertThat(f.node("small").parents()).as("nothing left of the refused job").isEmpty();
        f.fails("blockdev-mirror", "{'job-id':'k','device':'small','target':'tgt','sync':'full'}",
                "Node 'tgt' is busy: block device is in use by block job: mirror");
        f.fails("blockdev-del", "{'node-name':'tgt'}", "Node tgt is in use");
        f.fails("block-job-set-speed", "{'device':'j','speed':-5}", "Parameter 'speed' expects a non-negative value");
        f.fails("block-job-complete", "{'device':'j'}", "Job 'j' in state 'running' cannot accept command verb 'complete'");
        for (String c : new String[] {"block-job-complete", "block-job-pause", "block-job-resume", "block-job-cancel"}) {
            f.fails(c, "{'device':'nope'}", ErrorClass.DeviceNotActive, "Block job 'nope' not found");
        }
        f.fails("block-job-set-speed", "{'device':'nope','speed':1}", ErrorClass.DeviceNotActive,
                "Block job 'nope' not found");
        f.fails("block-job-finalize", "{'id':'nope'}", ErrorClass.DeviceNotActive, "Block job 'nope' not found");
        f.fails("block-job-dismiss", "{'id':'j'}", "Job 'j' in state 'running' cannot accept command verb 'dismiss'");
        f.fails("job-change", "{'id':'j','copy-mode':'bogus'}", "Parameter 'copy-mode' does not accept value 'bogus'");
        f.fails("job-change", "{'id':'j','bogus':1}", "Parameter 'bogus' is unexpected");
        var info = f.queryJob("j");
        assertThat(info.path("type").asText()).isEqualTo("mirror");
        assertThat(info.path("copy-mode").asText()).isEqualTo("background");
        assertThat(info.has("dirty-bytes")).isTrue();
        assertThat(info.has("bytes-in-flight")).isTrue();
        assertThat(info.path("actively-synced").asBoolean()).isFalse();
        var named = f.qmp("query-named-block-nodes", "{'flat':true}");
        assertThat(named.findValuesAsText("drv")).contains("mirror_top");
        f.qmp("block-job-cancel", "{'device':'j','force':true}");
        f.events.awaitStatus("j", "null");
        assertThat(f.mainLoop.call(() -> f.graph.find("mt").isPresent())).isFalse();
    }

    @Test
    void targetOfAnotherSizeFailsTheStartedJobAsQemu() {
        f.qmp("blockdev-mirror", "{'job-id':'j','device':'src','target':'small','sync':'full'}");
        f.events.awaitStatus("j", "null");
        assertThat(f.events.trace("j")).containsExactly("created", "running", "aborting", "BLOCK_JOB_COMPLETED",
                "concluded", "null");
        assertThat(f.events.await("BLOCK_JOB_COMPLETED", "j").data().toString()).isEqualTo(
                "{\"device\":\"j\",\"len\":0,\"offset\":0,\"speed\":0,\"type\":\"mirror\","
                        + "\"error\":\"Source and target image have different sizes\"}");
        assertThat(f.node("src").parents()).isEmpty();
    }
}
