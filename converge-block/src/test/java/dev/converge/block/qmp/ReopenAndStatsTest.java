package dev.converge.block.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.block.BlockBackend;
import dev.converge.block.BlockIOException;
import dev.converge.block.ImageTools;
import dev.converge.block.mirror.MirrorFixture;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * blockdev-reopen (read-only both ways, backing detached and attached, the list all or none,
 * QEMU's texts) and query-blockstats (the counters of the one request path, per node, with
 * parent and backing as QEMU nests them).
 */
@Tag("integration")
class ReopenAndStatsTest {
    @TempDir
    Path dir;

    private Path base;
    private Path top;

    private void chain() throws Exception {
        ImageTools.assumeInstalled();
        base = dir.resolve("base.qcow2");
        top = dir.resolve("top.qcow2");
        ImageTools.run(ImageTools.IMG, "create", "-q", "-f", "qcow2", base.toString(), "4M");
        ImageTools.io(base, "write -P 0x41 0 4M");
        ImageTools.run(ImageTools.IMG, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
                top.toString());
    }

    private void open(MirrorFixture f, boolean topReadOnly) {
        f.qmp("blockdev-add", "{'driver':'qcow2','node-name':'base','read-only':true,'file':{'driver':'file',"
                + "'node-name':'base-file','filename':'" + base + "'}}");
        f.qmp("blockdev-add", "{'driver':'qcow2','node-name':'top','read-only':" + topReadOnly + ",'backing':'base',"
                + "'file':{'driver':'file','node-name':'top-file','filename':'" + top + "'}}");
    }

    private static byte[] read(MirrorFixture f, String node, long off, int len) throws Exception {
        byte[] b = new byte[len];
        f.node(node).read(off, MemorySegment.ofArray(b));
        return b;
    }

    @Test
    void readOnlyBothWaysAndTheListIsAtomic() throws Exception {
        chain();
        try (MirrorFixture f = new MirrorFixture(dir)) {
            open(f, true);
            byte[] data = new byte[65536];
            Arrays.fill(data, (byte) 0x55);
            assertThatThrownBy(() -> f.node("top").write(0, MemorySegment.ofArray(data)))
                    .isInstanceOf(BlockIOException.class);
            f.fails("blockdev-reopen", "{'options':[{'driver':'qcow2','node-name':'top','backing':'base'},"
                    + "{'driver':'qcow2','node-name':'base','read-only':true,'backing':null,'lazy-refcounts':true}]}",
                    "Cannot change the option 'lazy-refcounts'");
            assertThat(f.node("top").readOnly()).as("nothing changed").isTrue();
            f.qmp("blockdev-reopen", "{'options':[{'driver':'qcow2','node-name':'top','backing':'base'}]}");
            assertThat(f.node("top").readOnly()).isFalse();
            assertThat(f.node("top-file").readOnly()).as("the inline child follows").isFalse();
            f.node("top").write(0, MemorySegment.ofArray(data));
            f.qmp("blockdev-reopen", "{'options':[{'driver':'qcow2','node-name':'top','read-only':true,"
                    + "'backing':'base'}]}");
            assertThat(f.node("top-file").readOnly()).isTrue();
            assertThatThrownBy(() -> f.node("top").write(0, MemorySegment.ofArray(data)))
                    .isInstanceOf(BlockIOException.class);
            assertThat(read(f, "top", 0, 65536)).isEqualTo(data);
            f.fails("blockdev-reopen", "{'options':[{'driver':'qcow2','node-name':'top','read-only':true}]}",
                    "backing is missing for 'top'");
            f.fails("blockdev-reopen", "{'options':[{'driver':'raw','node-name':'top','backing':'base'}]}",
                    "Cannot change the option 'driver'");
            f.fails("blockdev-reopen", "{'options':[{'driver':'qcow2','backing':'base'}]}", "node-name not specified");
            f.fails("blockdev-reopen", "{'options':[{'driver':'qcow2','node-name':'x'}]}",
                    "Failed to find node with node-name='x'");
            f.fails("blockdev-reopen", "{'options':[{'driver':'qcow2','node-name':'base','read-only':true,"
                    + "'backing':'top'}]}", "Making 'top' a backing child of 'base' would create a cycle");
            f.qmp("blockdev-del", "{'node-name':'top'}");
            f.qmp("blockdev-del", "{'node-name':'base'}");
        }
        ImageTools.checkClean(top);
    }

    @Test
    void backingDetachedAndAttachedAgain() throws Exception {
        chain();
        try (MirrorFixture f = new MirrorFixture(dir)) {
            open(f, false);
            assertThat(read(f, "top", 4096, 16)).containsOnly(0x41);
            f.qmp("blockdev-reopen", "{'options':[{'driver':'qcow2','node-name':'top','backing':null}]}");
            assertThat(f.node("top").backing()).isEmpty();
            assertThat(read(f, "top", 4096, 16)).containsOnly(0);
            f.qmp("blockdev-reopen", "{'options':[{'driver':'qcow2','node-name':'top','backing':'base'}]}");
            assertThat(read(f, "top", 4096, 16)).containsOnly(0x41);
            f.qmp("blockdev-del", "{'node-name':'top'}");
            f.qmp("blockdev-del", "{'node-name':'base'}");
        }
        assertThat(ImageTools.info(top).path("backing-filename").asText()).as("the image is not changed")
                .isEqualTo("base.qcow2");
    }

    @Test
    void blockstatsCountEveryRequestPerNode() throws Exception {
        chain();
        try (MirrorFixture f = new MirrorFixture(dir)) {
            open(f, false);
            BlockBackend drive = f.attach("drive", "top");
            byte[] data = new byte[131072];
            drive.write(65536, MemorySegment.ofArray(data), Set.of());
            drive.read(0, MemorySegment.ofArray(new byte[4096]));
            drive.read(0, MemorySegment.ofArray(new byte[4096]));
            drive.flush();
            JsonNode all = f.qmp("query-blockstats", "{}");
            assertThat(all).hasSize(1);
            JsonNode d = all.get(0);
            assertThat(d.path("device").asText()).isEqualTo("drive");
            assertThat(d.path("node-name").asText()).isEqualTo("top");
            JsonNode s = d.path("stats");
            assertThat(s.path("wr_bytes").asLong()).isEqualTo(131072);
            assertThat(s.path("wr_operations").asLong()).isEqualTo(1);
            assertThat(s.path("rd_bytes").asLong()).isEqualTo(8192);
            assertThat(s.path("rd_operations").asLong()).isEqualTo(2);
            assertThat(s.path("flush_operations").asLong()).isEqualTo(1);
            assertThat(s.path("wr_highest_offset").asLong()).isEqualTo(65536 + 131072);
            assertThat(s.path("wr_total_time_ns").asLong()).isPositive();
            assertThat(s.path("timed_stats")).isEmpty();
            assertThat(d.path("parent").path("node-name").asText()).isEqualTo("top-file");
            assertThat(d.path("parent").path("stats").path("wr_bytes").asLong()).as("data and metadata")
                    .isGreaterThanOrEqualTo(131072);
            assertThat(d.path("backing").path("node-name").asText()).isEqualTo("base");
            assertThat(d.path("backing").path("stats").path("rd_operations").asLong()).as("the COW and the reads")
                    .isPositive();
            JsonNode nodes = f.qmp("query-blockstats", "{'query-nodes':true}");
            assertThat(nodes).extracting(n -> n.path("node-name").asText())
                    .containsExactlyInAnyOrder("base-file", "base", "top-file", "top");
            assertThat(nodes).allSatisfy(n -> assertThat(n.has("backing")).isFalse());
            assertThatThrownBy(() -> drive.write(1L << 40, MemorySegment.ofArray(data), Set.of()))
                    .isInstanceOf(BlockIOException.class);
            assertThat(f.qmp("query-blockstats", "{}").get(0).path("stats").path("invalid_wr_operations").asLong())
                    .isEqualTo(1);
            f.mainLoop.call(() -> {
                f.graph.detachBackend(drive);
                return null;
            });
            f.qmp("blockdev-del", "{'node-name':'top'}");
            f.qmp("blockdev-del", "{'node-name':'base'}");
        }
    }
}
