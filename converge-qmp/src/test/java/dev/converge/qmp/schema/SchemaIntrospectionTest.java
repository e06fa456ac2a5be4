package dev.converge.qmp.schema;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.converge.qmp.Args;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.server.QmpCoreCommands;
import dev.converge.qmp.server.ServerIdentity;
import dev.converge.qmp.wire.QmpJson;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SchemaIntrospectionTest {
    private final QmpRegistry registry = new QmpRegistry();

    @BeforeEach
    void setUp() {
        QmpCoreCommands.register(registry, ServerIdentity.CONVERGE);
        EnumType status = new EnumType("JobStatus", List.of("created", "running"), "job states");
        ObjectType info = ObjectType.struct("JobInfo", "a job",
                required("id", BuiltinType.STR, "the job id"),
                required("status", status, "its state"),
                optional("error", BuiltinType.STR, "the first error"));
        registry.register(new CommandSpec("query-jobs", CommandSpec.EMPTY, new ArrayType(info),
                "Lists jobs.", "0.1.0", a -> QmpJson.nodes().arrayNode()));
        Map<String, ObjectType> variants = new LinkedHashMap<>();
        variants.put("mirror", ObjectType.struct("JobChangeOptionsMirror", "mirror knobs",
                required("copy-mode", BuiltinType.STR, "how")));
        registry.register(new CommandSpec("job-change", ObjectType.union("JobChangeOptions", "change a job",
                List.of(required("id", BuiltinType.STR, "the job"), optional("type", new EnumType("JobType",
                        List.of("mirror", "migration"), "kinds"), "its type")), "type", variants),
                CommandSpec.EMPTY, "Changes a job.", "0.1.0", a -> null));
        registry.register(new CommandSpec("blockdev-ref", CommandSpec.args("blockdev-ref",
                required("node", new AlternateType("BlockdevRef", List.of(BuiltinType.STR, info), "by name or inline"),
                        "the node")), BuiltinType.UINT8, "An alternate in arguments.", "0.1.0", a -> null));
        registry.register(new EventSpec("JOB_STATUS_CHANGE", ObjectType.struct("q_obj_JOB_STATUS_CHANGE-arg", "",
                required("id", BuiltinType.STR, "the job"), required("status", status, "new state")),
                "A job changed state.", "0.1.0"));
    }

    private JsonNode schema() {
        return registry.command("query-qmp-schema").orElseThrow().handler().handle(new Args(QmpJson.object()));
    }

    @Test
    void everyReferencedTypeIsDefinedExactlyOnce() {
        ArrayNode s = (ArrayNode) schema();
        Set<String> names = new HashSet<>();
        for (JsonNode e : s) {
            assertThat(names.add(e.get("name").asText())).as("unique name %s", e.get("name")).isTrue();
        }
        for (JsonNode e : s) {
            for (String ref : references(e)) {
                assertThat(names).as("type %s referenced by %s", ref, e.get("name")).contains(ref);
            }
        }
        assertThat(SchemaIntrospection.clashes(registry)).isEmpty();
    }

    @Test
    void schemaValidatesAgainstItsOwnDeclaredReturnType() {
        CommandSpec spec = registry.command("query-qmp-schema").orElseThrow();
        assertThatCode(() -> SchemaValidator.validate(spec.returns(), schema())).doesNotThrowAnyException();
    }

    @Test
    void entriesHaveQemuShapes() throws Exception {
        Map<String, JsonNode> byName = new LinkedHashMap<>();
        schema().forEach(e -> byName.put(e.get("name").asText(), e));
        assertThat(byName.get("query-jobs")).isEqualTo(QmpJson.parse("""
                {"name": "query-jobs", "meta-type": "command", "arg-type": "q_empty", "ret-type": "[JobInfo]",
                 "allow-oob": false}"""));
        assertThat(byName.get("JOB_STATUS_CHANGE")).isEqualTo(QmpJson.parse("""
                {"name": "JOB_STATUS_CHANGE", "meta-type": "event", "arg-type": "q_obj_JOB_STATUS_CHANGE-arg"}"""));
        assertThat(byName.get("JobInfo")).isEqualTo(QmpJson.parse("""
                {"name": "JobInfo", "meta-type": "object", "members": [
                  {"name": "id", "type": "str"}, {"name": "status", "type": "JobStatus"},
                  {"name": "error", "type": "str", "default": null}]}"""));
        assertThat(byName.get("JobStatus")).isEqualTo(QmpJson.parse("""
                {"name": "JobStatus", "meta-type": "enum", "members": [{"name": "created"}, {"name": "running"}],
                 "values": ["created", "running"]}"""));
        assertThat(byName.get("[JobInfo]")).isEqualTo(QmpJson.parse("""
                {"name": "[JobInfo]", "meta-type": "array", "element-type": "JobInfo"}"""));
        assertThat(byName.get("JobChangeOptions").get("tag").asText()).isEqualTo("type");
        assertThat(byName.get("JobChangeOptions").get("variants")).isEqualTo(QmpJson.parse("""
                [{"case": "mirror", "type": "JobChangeOptionsMirror"}]"""));
        assertThat(byName.get("BlockdevRef")).isEqualTo(QmpJson.parse("""
                {"name": "BlockdevRef", "meta-type": "alternate", "members": [{"type": "str"}, {"type": "JobInfo"}]}"""));
        assertThat(byName.get("uint8")).isEqualTo(QmpJson.parse("""
                {"name": "uint8", "meta-type": "builtin", "json-type": "int"}"""));
        assertThat(byName.get("q_empty").get("members")).isEmpty();
    }

    @Test
    void queryCommandsAndQueryVersion() throws Exception {
        JsonNode cmds = registry.command("query-commands").orElseThrow().handler().handle(new Args(QmpJson.object()));
        assertThat(StreamSupport.stream(cmds.spliterator(), false).map(c -> c.get("name").asText()))
                .containsExactly("qmp_capabilities", "query-commands", "query-version", "query-qmp-schema",
                        "query-jobs", "job-change", "blockdev-ref");
        JsonNode v = registry.command("query-version").orElseThrow().handler().handle(new Args(QmpJson.object()));
        assertThat(v).isEqualTo(QmpJson.parse("""
                {"qemu": {"major": 10, "minor": 0, "micro": 0}, "package": "converge 0.1.0"}"""));
        assertThatCode(() -> SchemaValidator.validate(registry.command("query-version").orElseThrow().returns(), v))
                .doesNotThrowAnyException();
    }

    @Test
    void clashingDeclarationsAreReported() {
        registry.register(new CommandSpec("other", CommandSpec.EMPTY,
                ObjectType.struct("JobInfo", "a different JobInfo", required("x", BuiltinType.INT, "")),
                "", "", a -> null));
        assertThat(SchemaIntrospection.clashes(registry)).containsExactly("JobInfo");
    }

    @Test
    void markdownDocumentsEveryCommandEventAndMember() {
        String md = SchemaDocs.markdown(registry);
        for (CommandSpec c : registry.commands()) {
            assertThat(md).contains("### `" + c.name() + "`");
        }
        assertThat(md).contains("### `JOB_STATUS_CHANGE`", "A job changed state.",
                "- `error`: `str` (optional) — the first error",
                "Returns: `[JobInfo]`",
                "- `mirror`: adds `copy-mode` (`JobChangeOptionsMirror`)",
                "### `JobStatus` (enum)", "Values: `created`, `running`",
                "### `BlockdevRef` (alternate)");
    }

    private static List<String> references(JsonNode e) {
        List<String> refs = new java.util.ArrayList<>();
        for (String f : List.of("arg-type", "ret-type", "element-type")) {
            if (e.has(f)) {
                refs.add(e.get(f).asText());
            }
        }
        String meta = e.get("meta-type").asText();
        if (meta.equals("object") || meta.equals("alternate")) {
            e.get("members").forEach(m -> refs.add(m.get("type").asText()));
        }
        if (e.has("variants")) {
            e.get("variants").forEach(v -> refs.add(v.get("type").asText()));
        }
        return refs;
    }
}
