package dev.converge.block.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockNode;
import dev.converge.qmp.Args;
import dev.converge.qmp.ErrorClass;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlockQmpTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    private final MainLoop mainLoop = new MainLoop();
    private final QmpRegistry registry = new QmpRegistry();
    private BlockGraph graph;
    private String img;

    @BeforeEach
    void setUp() throws Exception {
        graph = new BlockGraph(mainLoop);
        new BlockQmp(graph).register(registry);
        Path p = dir.resolve("img.raw");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(1 << 20);
        }
        img = p.toString();
    }

    @AfterEach
    void tearDown() {
        mainLoop.close();
    }

    private JsonNode qmp(String command, String argsJson) {
        ObjectNode args = (ObjectNode) parse(argsJson.replace('\'', '"').replace("IMG", img));
        return mainLoop.call(() -> registry.command(command).orElseThrow().handler().handle(new Args(args)));
    }

    private static JsonNode parse(String s) {
        try {
            return JSON.readTree(s);
        } catch (Exception e) {
            throw new IllegalArgumentException(s, e);
        }
    }

    private void fails(String command, String args, String desc) {
        assertThatThrownBy(() -> qmp(command, args)).isInstanceOfSatisfying(QmpException.class, e -> {
            assertThat(e.errorClass()).isEqualTo(ErrorClass.GenericError);
            assertThat(e.desc()).isEqualTo(desc);
        });
    }

    @Test
    void blockdevAddErrorsAreQemus() {
        qmp("blockdev-add", "{'driver':'file','node-name':'f0','filename':'IMG'}");
        fails("blockdev-add", "{'driver':'file','node-name':'f0','filename':'IMG'}", "Duplicate nodes with node-name='f0'");
        fails("blockdev-add", "{'driver':'file','node-name':'f1','filename':'/nonexistent/x.raw'}",
                "Could not open '/nonexistent/x.raw': No such file or directory");
        fails("blockdev-add", "{'driver':'file','node-name':'f2','filename':'IMG','bogus':1}",
                "Parameter 'bogus' is unexpected");
        fails("blockdev-add", "{'driver':'file','node-name':'f3'}", "Parameter 'filename' is missing");
        fails("blockdev-add", "{'driver':'file','node-name':'9bad','filename':'IMG'}", "Invalid node-name: '9bad'");
        fails("blockdev-add", "{'driver':'file','node-name':'" + "a".repeat(32) + "','filename':'IMG'}",
                "Node name too long");
        fails("blockdev-add", "{'driver':'nosuch','node-name':'x0'}", "Parameter 'driver' does not accept value 'nosuch'");
        fails("blockdev-add", "{'driver':'raw','node-name':'r1','file':'nope'}",
                "Cannot find device='nope' nor node-name='nope'");
        fails("blockdev-add", "{'driver':'raw','node-name':'r2','file':{'driver':'file','filename':'IMG','x':1}}",
                "Parameter 'file.x' is unexpected");
        fails("blockdev-add", "{'driver':'raw','node-name':'r3','file':'f0','size':1000}",
                "Specified size is not multiple of 512");
        // failed adds left nothing behind
        assertThat(mainLoop.call(graph::nodes)).extracting(BlockNode::nodeName).containsExactly("f0");
    }

    @Test
    void blockdevDelRefusesNodesInUse() {
        qmp("blockdev-add", "{'driver':'file','node-name':'f0','filename':'IMG'}");
        qmp("blockdev-add", "{'driver':'raw','node-name':'r0','file':'f0'}");
        qmp("blockdev-add", "{'driver':'raw','node-name':'r5','file':{'driver':'file','filename':'IMG'}}");
        String implicit = mainLoop.call(() -> graph.find("r5").orElseThrow().children().getFirst().node().nodeName());
        assertThat(implicit).startsWith("#block");
        fails("blockdev-del", "{'node-name':'f0'}", "Block device f0 is in use");
        fails("blockdev-del", "{'node-name':'zz'}", "Failed to find node with node-name='zz'");
        fails("blockdev-del", "{'node-name':'" + implicit + "'}", "Node " + implicit + " is not owned by the monitor");
        mainLoop.call(() -> graph.attachBackend("disk0", graph.find("r0").orElseThrow()));
        fails("blockdev-del", "{'node-name':'r0'}", "Node r0 is in use");
        assertThat(qmp("query-block", "{}")).hasSize(1);
        mainLoop.call(() -> {
            graph.detachBackend(graph.backends().getFirst());
            return null;
        });
        qmp("blockdev-del", "{'node-name':'r0'}");
        qmp("blockdev-del", "{'node-name':'f0'}");
        qmp("blockdev-del", "{'node-name':'r5'}");
        assertThat(qmp("query-named-block-nodes", "{}")).isEmpty();
    }

    @Test
    void queryNamedBlockNodesHasQemusShape() {
        qmp("blockdev-add", "{'driver':'file','node-name':'f0','filename':'IMG','cache':{'direct':false},"
                + "'aio':'threads','locking':'off','discard':'unmap'}");
        qmp("blockdev-add", "{'driver':'null-co','node-name':'n0'}");
        qmp("blockdev-add", "{'driver':'blkdebug','node-name':'d0','image':'n0',"
                + "'inject-error':[{'event':'read_aio','sector':5}]}");
        JsonNode nodes = qmp("query-named-block-nodes", "{'flat':true}");
        assertThat(nodes).extracting(n -> n.get("node-name").asText()).containsExactly("d0", "n0", "f0");
        JsonNode f0 = nodes.get(2);
        assertThat(f0.get("drv").asText()).isEqualTo("file");
        assertThat(f0.get("file").asText()).isEqualTo(img);
        assertThat(f0.get("ro").asBoolean()).isFalse();
        assertThat(f0.get("image").get("virtual-size").asLong()).isEqualTo(1 << 20);
        assertThat(f0.get("image").get("format").asText()).isEqualTo("file");
        assertThat(f0.get("cache")).isEqualTo(parse("{\"no-flush\":false,\"direct\":false,\"writeback\":true}"));
        for (String k : new String[] {"bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr", "write_threshold"}) {
            assertThat(f0.get(k).asLong()).as(k).isZero();
        }
        assertThat(f0.get("detect_zeroes").asText()).isEqualTo("off");
        assertThat(f0.get("encrypted").asBoolean()).isFalse();
        assertThat(nodes.get(1).get("image").get("virtual-size").asLong()).isEqualTo(1L << 30);
        JsonNode nested = qmp("query-named-block-nodes", "{}");
        assertThat(nested.get(0).get("image").get("backing-image").get("format").asText()).isEqualTo("null-co");
        assertThat(qmp("query-block", "{}")).isEmpty();
    }

    @Test
    void dirtyBitmapCommands() throws Exception {
        qmp("blockdev-add", "{'driver':'null-co','node-name':'n0','size':1048576}");
        qmp("block-dirty-bitmap-add", "{'node':'n0','name':'b0'}");
        fails("block-dirty-bitmap-add", "{'node':'n0','name':'b0'}", "Bitmap already exists: b0");
        fails("block-dirty-bitmap-add", "{'node':'n0','name':''}", "Bitmap name cannot be empty");
        fails("block-dirty-bitmap-add", "{'node':'n0','name':'b1','granularity':1000}",
                "Granularity must be power of 2 and at least 512");
        fails("block-dirty-bitmap-add", "{'node':'n0','name':'b2','persistent':true}",
                "Can't store persistent bitmaps to n0");
        fails("block-dirty-bitmap-add", "{'node':'zz','name':'b2'}", "Cannot find device='zz' nor node-name='zz'");
        qmp("block-dirty-bitmap-add", "{'node':'n0','name':'b3','granularity':512,'disabled':true}");
        BlockNode n0 = mainLoop.call(() -> graph.find("n0").orElseThrow());
        try (Arena a = Arena.ofConfined()) {
            n0.write(70_000, a.allocate(10));
        }
        JsonNode bitmaps = qmp("query-named-block-nodes", "{'flat':true}").get(0).get("dirty-bitmaps");
        assertThat(bitmaps).hasSize(2);
        assertThat(bitmaps.get(0).toString()).isEqualTo("{\"name\":\"b3\",\"recording\":false,\"persistent\":false,"
                + "\"busy\":false,\"granularity\":512,\"count\":0}");
        assertThat(bitmaps.get(1).get("count").asLong()).isEqualTo(65536);
        assertThat(bitmaps.get(1).get("granularity").asLong()).isEqualTo(65536);
        fails("block-dirty-bitmap-remove", "{'node':'n0','name':'bx'}", "Dirty bitmap 'bx' not found");
        fails("block-dirty-bitmap-clear", "{'node':'n0','name':'bx'}", "Dirty bitmap 'bx' not found");
        n0.dirtyBitmap("b0").orElseThrow().setBusy(true);
        fails("block-dirty-bitmap-clear", "{'node':'n0','name':'b0'}",
                "Bitmap 'b0' is currently in use by another operation and cannot be used");
        n0.dirtyBitmap("b0").orElseThrow().setBusy(false);
        qmp("block-dirty-bitmap-clear", "{'node':'n0','name':'b0'}");
        assertThat(n0.dirtyBitmap("b0").orElseThrow().dirtyBytes()).isZero();
        qmp("block-dirty-bitmap-remove", "{'node':'n0','name':'b0'}");
        assertThat(n0.dirtyBitmap("b0")).isEmpty();
    }

    @Test
    void cliEntryTakesBlockdevAddJson() {
        BlockQmp q = new BlockQmp(graph);
        BlockNode n = mainLoop.call(() -> q.blockdevAdd(BlockQmp.parseBlockdevJson(
                "{\"driver\":\"raw\",\"node-name\":\"disk\",\"file\":{\"driver\":\"file\",\"filename\":\"" + img + "\"}}")));
        assertThat(n.nodeName()).isEqualTo("disk");
        assertThat(n.options().discardUnmap()).isFalse();
        assertThat(n.children().getFirst().node().options().discardUnmap()).as("inline child default").isTrue();
        assertThatThrownBy(() -> BlockQmp.parseBlockdevJson("{nope")).isInstanceOf(QmpException.class)
                .hasMessageStartingWith("Invalid JSON in --blockdev");
    }

    @Test
    void schemaDeclaresTheBlockdevOptionsUnion() {
        var spec = registry.command("blockdev-add").orElseThrow();
        assertThat(spec.arguments().typeName()).isEqualTo("BlockdevOptions");
        assertThat(spec.arguments().discriminator()).isEqualTo("driver");
        assertThat(spec.arguments().variants()).containsOnlyKeys("blkdebug", "file", "null-co", "qcow2", "raw");
    }
}
