package dev.converge.block.qmp;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockNode;
import dev.converge.block.driver.BlockDriverPlugin;
import dev.converge.block.driver.NullNode;
import dev.converge.qmp.Args;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.ObjectType;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A driver of another module plugs into blockdev-add: its schema variant and its opener. */
class BlockDriverPluginTest {
    private static final ObjectType OPTIONS = ObjectType.struct("BlockdevOptionsTest", "A test driver.",
            required("size", BuiltinType.INT, "size"), optional("tag", BuiltinType.STR, "a tag"));

    private final MainLoop mainLoop = new MainLoop();
    private final QmpRegistry registry = new QmpRegistry();
    private final BlockGraph graph = new BlockGraph(mainLoop);
    private final BlockQmp qmp = new BlockQmp(graph);
    private final AtomicReference<ObjectNode> seen = new AtomicReference<>();

    @AfterEach
    void tearDown() {
        mainLoop.close();
    }

    private BlockDriverPlugin plugin() {
        return new BlockDriverPlugin("test-drv", OPTIONS, (name, opts, own) -> {
            seen.set(own);
            return new NullNode(name, opts, own.get("size").asLong(), true, 0);
        });
    }

    private BlockNode add(String json) throws Exception {
        ObjectNode args = (ObjectNode) new ObjectMapper().readTree(json.replace('\'', '"'));
        return mainLoop.call(() -> {
            registry.command("blockdev-add").orElseThrow().handler().handle(new Args(args));
            return graph.find(args.get("node-name").asText()).orElseThrow();
        });
    }

    @Test
    void addedAfterRegistrationTheSchemaAndTheOpenerKnowTheDriver() throws Exception {
        qmp.register(registry);
        qmp.addDriver(registry, plugin());
        ObjectType args = registry.command("blockdev-add").orElseThrow().arguments();
        assertThat(args.variants()).containsEntry("test-drv", OPTIONS);
        assertThat(((EnumType) args.member("driver").orElseThrow().type()).values()).contains("test-drv", "file");
        BlockNode n = add("{'driver':'test-drv','node-name':'t','size':4096,'tag':'x'}");
        assertThat(n.size()).isEqualTo(4096);
        assertThat(seen.get().toString()).isEqualTo("{\"size\":4096,\"tag\":\"x\"}"); // only its own members
    }

    @Test
    void addedBeforeRegistrationToo() throws Exception {
        qmp.addDriver(registry, plugin());
        qmp.register(registry);
        assertThat(registry.command("blockdev-add").orElseThrow().arguments().variants()).containsKey("test-drv");
        assertThat(add("{'driver':'test-drv','node-name':'t','size':512}").size()).isEqualTo(512);
    }

    @Test
    void unexpectedMembersAreRefusedAndNamesAreUnique() throws Exception {
        qmp.register(registry);
        qmp.addDriver(registry, plugin());
        assertThatThrownBy(() -> add("{'driver':'test-drv','node-name':'t','size':512,'nope':1}"))
                .hasMessageContaining("Parameter 'nope' is unexpected");
        assertThatThrownBy(() -> qmp.addDriver(registry, plugin())).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> graph.addDriver(new BlockDriverPlugin("file", OPTIONS, (a, b, c) -> null)))
                .isInstanceOf(IllegalStateException.class);
    }
}
