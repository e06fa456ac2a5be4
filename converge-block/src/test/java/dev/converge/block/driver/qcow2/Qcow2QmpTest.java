package dev.converge.block.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.converge.block.qmp.BlockQmp;
import dev.converge.qmp.QmpException;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** blockdev-add of qcow2 nodes and how query-named-block-nodes shows a backing chain. */
class Qcow2QmpTest {
    @TempDir
    Path dir;

    @BeforeEach
    void peers() {
        QemuTools.assumeInstalled();
    }

    private static JsonNode node(ArrayNode nodes, String name) {
        for (JsonNode n : nodes) {
            if (n.path("node-name").asText().equals(name)) {
                return n;
            }
        }
        throw new AssertionError("no node " + name + " in " + nodes);
    }

    @Test
    void queryNamedBlockNodesShowsTheChain() {
        Path base = dir.resolve("base.qcow2");
        Path top = dir.resolve("top.qcow2");
        QemuTools.create(base, "compat=1.1", 1 << 20);
        QemuTools.ok(QemuTools.QEMU_IMG.toString(), "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
                top.toString());
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            f.add("{'driver':'qcow2','node-name':'base','read-only':true,'file':{'driver':'file','filename':'" + base
                    + "'}}");
            f.add("{'driver':'qcow2','node-name':'top','backing':'base','file':{'driver':'file','filename':'" + top
                    + "'}}");
            ArrayNode nodes = f.mainLoop.call(() -> new BlockQmp(f.graph).queryNamedBlockNodes(false));
            JsonNode t = node(nodes, "top");
            assertThat(t.path("drv").asText()).isEqualTo("qcow2");
            assertThat(t.path("backing_file").asText()).isEqualTo("base.qcow2");
            assertThat(t.path("backing_file_depth").asInt()).isEqualTo(1);
            JsonNode img = t.path("image");
            assertThat(img.path("backing-filename").asText()).isEqualTo("base.qcow2");
            assertThat(img.path("backing-filename-format").asText()).isEqualTo("qcow2");
            assertThat(img.path("cluster-size").asLong()).isEqualTo(65536);
            assertThat(img.path("format-specific").path("data").path("compat").asText()).isEqualTo("1.1");
            assertThat(img.path("backing-image").path("filename").asText()).isEqualTo(base.toString());
            assertThat(node(nodes, "base").path("backing_file_depth").asInt()).isZero();
        }
    }

    @Test
    void backingNullOpensWithoutTheChainAndDataFileIsRefused() {
        Path top = dir.resolve("top.qcow2");
        QemuTools.ok(QemuTools.QEMU_IMG.toString(), "create", "-q", "-u", "-f", "qcow2", "-b", "missing.qcow2", "-F",
                "qcow2", top.toString(), "1M");
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            assertThatThrownBy(() -> f.add("{'driver':'qcow2','node-name':'t','file':{'driver':'file','filename':'"
                    + top + "'}}")).isInstanceOf(QmpException.class).hasMessageContaining("Could not open backing file");
            Qcow2Node n = (Qcow2Node) f.add("{'driver':'qcow2','node-name':'t','backing':null,"
                    + "'file':{'driver':'file','filename':'" + top + "'}}");
            assertThat(n.backingNode()).isEmpty();
            assertThat(n.backingFileName()).contains("missing.qcow2");
            assertThatThrownBy(() -> f.add("{'driver':'qcow2','node-name':'d','data-file':'x',"
                    + "'file':{'driver':'file','filename':'" + top + "'}}")).isInstanceOf(QmpException.class)
                    .hasMessage("qcow2 external data files ('data-file') are not supported by converge");
            assertThatThrownBy(() -> f.add("{'driver':'qcow2','node-name':'r','file':{'driver':'file','filename':'"
                    + dir.resolve("nope") + "'}}")).isInstanceOf(QmpException.class)
                    .hasMessageStartingWith("Could not open");
        }
    }

    @Test
    void blockResizeGrowsTheL1TableAndTheDisk() throws Exception {
        Path img = dir.resolve("r.qcow2");
        QemuTools.create(img, "compat=1.1,cluster_size=4096", 1 << 20);
        QemuTools.io(img, "write -P 0x71 0 64k");
        long newSize = 20L << 30;
        try (Qcow2Fixture f = new Qcow2Fixture(); java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
            Qcow2Node n = f.qcow2("r", img, false);
            var registry = new dev.converge.qmp.QmpRegistry();
            new BlockQmp(f.graph).register(registry);
            var cmd = registry.command("block_resize").orElseThrow();
            f.mainLoop.call(() -> cmd.handler().handle(new dev.converge.qmp.Args((com.fasterxml.jackson.databind.node.ObjectNode)
                    Qcow2Fixture.JSON.readTree("{\"node-name\":\"r\",\"size\":" + newSize + "}"))));
            assertThat(n.size()).isEqualTo(newSize);
            assertThatThrownBy(() -> f.mainLoop.call(() -> cmd.handler().handle(new dev.converge.qmp.Args(
                    (com.fasterxml.jackson.databind.node.ObjectNode) Qcow2Fixture.JSON.readTree(
                            "{\"node-name\":\"r\",\"size\":4096}")))))
                    .isInstanceOf(QmpException.class).hasMessage("converge cannot shrink qcow2 images");
            byte[] w = new byte[70_000];
            java.util.Arrays.fill(w, (byte) 0x72);
            n.write(newSize - w.length, a.allocate(w.length).copyFrom(java.lang.foreign.MemorySegment.ofArray(w)));
            f.del("r");
        }
        QemuTools.checkClean(img);
        assertThat(QemuTools.ok(QemuTools.QEMU_IMG.toString(), "info", img.toString())).contains("20 GiB");
        QemuTools.io(img, "read -P 0x72 " + (newSize - 70_000) + " 70000", "read -P 0x71 0 64k");
    }

    /**
     * The dirty bit (an image with lazy refcounts not closed cleanly) and the corrupt bit: such an
     * image opens read-only and reads as it is, read-write is refused with a text that says why
     * and changes nothing (qemu-img check still sees the bit it saw before).
     */
    @Test
    void dirtyOrCorruptImagesOpenReadOnlyOnly() throws Exception {
        for (long bit : new long[] {Qcow2Header.INCOMPAT_DIRTY, Qcow2Header.INCOMPAT_CORRUPT}) {
            Path img = dir.resolve("bits" + bit + ".qcow2");
            QemuTools.create(img, "compat=1.1,lazy_refcounts=on", 1 << 20);
            QemuTools.io(img, "write -P 0x5a 0 64k");
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(img,
                    java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.allocate(8).putLong(0, bit), Qcow2Header.OFF_INCOMPATIBLE);
            }
            byte[] before = java.nio.file.Files.readAllBytes(img);
            try (Qcow2Fixture f = new Qcow2Fixture()) {
                assertThatThrownBy(() -> f.qcow2("rw", img, false)).isInstanceOf(QmpException.class)
                        .hasMessageContaining(bit == Qcow2Header.INCOMPAT_DIRTY ? "not closed cleanly"
                                : "Image is corrupt; cannot be opened read/write");
                Qcow2Node ro = f.qcow2("ro", img, true);
                byte[] data = Qcow2Fixture.readAll(ro);
                assertThat(data[0]).isEqualTo((byte) 0x5a);
                assertThat(data[65535]).isEqualTo((byte) 0x5a);
                assertThat(data[65536]).isZero();
                f.del("ro");
            }
            assertThat(java.nio.file.Files.readAllBytes(img)).as("the refused open changed nothing").isEqualTo(before);
        }
    }
}
