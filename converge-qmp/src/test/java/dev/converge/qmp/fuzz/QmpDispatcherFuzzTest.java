package dev.converge.qmp.fuzz;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;
import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.ErrorClass;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.ObjectType;
import dev.converge.qmp.server.QmpCoreCommands;
import dev.converge.qmp.server.QmpDispatcher;
import dev.converge.qmp.server.ServerIdentity;
import dev.converge.qmp.wire.QmpJson;
import java.util.List;
import java.util.Map;

/**
 * The QMP dispatcher on any JSON a client can send, negotiated or not: every request gets
 * exactly one reply, a {@code return} or an {@code error} of a QMP error class, never an
 * exception; arguments reach a handler only after they passed the schema (the handler checks
 * what it was promised).
 */
class QmpDispatcherFuzzTest {
    private static final ObjectType ITEM = ObjectType.struct("FuzzItem", "an item",
            required("name", BuiltinType.STR, "name"), optional("size", BuiltinType.UINT32, "size"));
    private static final ObjectType ARGS = ObjectType.union("q_obj_fuzz-arg", "fuzz arguments", List.of(
                    required("kind", new EnumType("FuzzKind", List.of("a", "b"), "kinds"), "kind"),
                    optional("count", BuiltinType.INT8, "count"),
                    optional("items", new ArrayType(ITEM), "items"),
                    optional("any", BuiltinType.ANY, "any")),
            "kind", Map.of("a", ObjectType.struct("FuzzA", "a", required("flag", BuiltinType.BOOL, "flag")),
                    "b", ObjectType.struct("FuzzB", "b", optional("ratio", BuiltinType.NUMBER, "ratio"))));
    private static final QmpRegistry REGISTRY = new QmpRegistry();
    private static final QmpDispatcher DISPATCHER = new QmpDispatcher(REGISTRY);

    static {
        QmpCoreCommands.register(REGISTRY, ServerIdentity.CONVERGE);
        REGISTRY.register(new CommandSpec("fuzz", ARGS, CommandSpec.EMPTY, "a command with every kind of argument", "0.1",
                args -> {
                    ObjectNode a = args.node();
                    String kind = a.get("kind").asText();
                    if (kind.equals("a") && !a.get("flag").isBoolean()) {
                        throw new AssertionError("validated arguments without a boolean flag: " + a);
                    }
                    if (a.has("count") && (a.get("count").asLong() < -128 || a.get("count").asLong() > 127)) {
                        throw new AssertionError("int8 out of range passed validation: " + a);
                    }
                    return null;
                }));
    }

    @FuzzTest(maxDuration = "30s")
    void everyRequestGetsOneWellFormedReply(byte[] input) {
        JsonNode request;
        try {
            request = QmpJson.parse(input);
        } catch (QmpJson.ParseException e) {
            return; // the framer's and parser's part, fuzzed in QmpFramerFuzzTest
        }
        boolean[] negotiated = {input.length > 0 && (input[0] & 1) == 1};
        ObjectNode reply = DISPATCHER.dispatch(request, new QmpDispatcher.Session() {
            @Override
            public boolean negotiated() {
                return negotiated[0];
            }

            @Override
            public void markNegotiated() {
                negotiated[0] = true;
            }
        });
        assertThat(reply.has("return") ^ reply.has("error")).as("reply %s", reply).isTrue();
        if (reply.has("error")) {
            assertThat(ErrorClass.valueOf(reply.get("error").get("class").asText())).isNotNull();
            assertThat(reply.get("error").get("desc").asText()).isNotBlank();
        }
        QmpJson.encode(reply); // always serialisable
    }
}
