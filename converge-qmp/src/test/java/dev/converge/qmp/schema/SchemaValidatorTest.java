package dev.converge.qmp.schema;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.ErrorClass;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.wire.QmpJson;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SchemaValidatorTest {
    private static final EnumType COLOR = new EnumType("Color", List.of("red", "green"), "a colour");
    private static final ObjectType INNER = ObjectType.struct("Inner", "inner",
            required("b", BuiltinType.INT, "b"), optional("c", COLOR, "c"));
    private static final AlternateType REF = new AlternateType("NodeRef",
            List.of(BuiltinType.STR, INNER), "by name or inline");

    private static final ObjectType ARGS = CommandSpec.args("test-cmd",
            required("s", BuiltinType.STR, "s"),
            optional("i", BuiltinType.INT, "i"),
            optional("i8", BuiltinType.INT8, ""),
            optional("i32", BuiltinType.INT32, ""),
            optional("u8", BuiltinType.UINT8, ""),
            optional("u32", BuiltinType.UINT32, ""),
            optional("u64", BuiltinType.UINT64, ""),
            optional("size", BuiltinType.SIZE, ""),
            optional("n", BuiltinType.NUMBER, ""),
            optional("flag", BuiltinType.BOOL, ""),
            optional("nul", BuiltinType.NULL, ""),
            optional("any", BuiltinType.ANY, ""),
            optional("color", COLOR, ""),
            optional("a", INNER, ""),
            optional("list", new ArrayType(BuiltinType.INT), ""),
            optional("objs", new ArrayType(INNER), ""),
            optional("colors", new ArrayType(COLOR), ""),
            optional("ref", REF, ""));

    private static final CommandSpec CMD = new CommandSpec("test-cmd", ARGS, CommandSpec.EMPTY, "", "0.1.0",
            a -> null);

    private static ObjectNode obj(String json) {
        try {
            return (ObjectNode) QmpJson.parse(json);
        } catch (QmpJson.ParseException e) {
            throw new AssertionError(e);
        }
    }

    private static void assertRefused(CommandSpec spec, String args, String desc) {
        assertThatThrownBy(() -> SchemaValidator.validateArguments(spec, obj(args)))
                .isInstanceOfSatisfying(QmpException.class, e -> {
                    assertThat(e.errorClass()).isEqualTo(ErrorClass.GenericError);
                    assertThat(e.desc()).isEqualTo(desc);
                });
    }

    @Test
    void validArgumentsPassUnchanged() {
        ObjectNode args = obj("""
                {"s": "x", "i": -5, "i8": -128, "i32": 2147483647, "u8": 255, "u32": 4294967295,
                 "u64": 9223372036854775807, "size": 0, "n": 1.5, "flag": true, "nul": null,
                 "any": {"whatever": [1]}, "color": "red", "a": {"b": 1, "c": "green"},
                 "list": [1, 2], "objs": [{"b": 1}], "colors": ["green"], "ref": "node0"}""");
        assertThat(SchemaValidator.validateArguments(CMD, args)).isSameAs(args);
        assertThatCode(() -> SchemaValidator.validateArguments(CMD, obj("{\"s\": \"x\", \"ref\": {\"b\": 2}}")))
                .doesNotThrowAnyException();
        assertThatCode(() -> SchemaValidator.validateArguments(CMD, obj("{\"s\": \"x\", \"n\": 3}")))
                .as("an integer is a number").doesNotThrowAnyException();
        assertThatCode(() -> SchemaValidator.validateArguments(CMD,
                obj("{\"s\": \"x\", \"u64\": 18446744073709551615, \"size\": -1}")))
                .as("uint64 and size take 2^64-1 and, as QEMU, negative numbers (wrapped)").doesNotThrowAnyException();
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        "{}                                          | Parameter 's' is missing",
        "{\"s\": \"x\", \"zz\": 1}                   | Parameter 'zz' is unexpected",
        "{\"s\": 1}                                  | Invalid parameter type for 's', expected: string",
        "{\"s\": null}                               | Invalid parameter type for 's', expected: string",
        "{\"s\": \"x\", \"i\": \"1\"}                | Invalid parameter type for 'i', expected: integer",
        "{\"s\": \"x\", \"i\": 1.5}                  | Invalid parameter type for 'i', expected: integer",
        "{\"s\": \"x\", \"i\": 99999999999999999999} | Invalid parameter type for 'i', expected: integer",
        "{\"s\": \"x\", \"flag\": 1}                 | Invalid parameter type for 'flag', expected: boolean",
        "{\"s\": \"x\", \"n\": \"1\"}                | Invalid parameter type for 'n', expected: number",
        "{\"s\": \"x\", \"nul\": 0}                  | Invalid parameter type for 'nul', expected: null",
        "{\"s\": \"x\", \"a\": []}                   | Invalid parameter type for 'a', expected: object",
        "{\"s\": \"x\", \"list\": {}}                | Invalid parameter type for 'list', expected: array",
        "{\"s\": \"x\", \"color\": \"blue\"}         | Parameter 'color' does not accept value 'blue'",
        "{\"s\": \"x\", \"color\": 3}                | Invalid parameter type for 'color', expected: string",
        "{\"s\": \"x\", \"i8\": 128}                 | Parameter 'i8' expects int8_t",
        "{\"s\": \"x\", \"i8\": -129}                | Parameter 'i8' expects int8_t",
        "{\"s\": \"x\", \"i32\": 2147483648}         | Parameter 'i32' expects int32_t",
        "{\"s\": \"x\", \"u8\": 256}                 | Parameter 'u8' expects uint8_t",
        "{\"s\": \"x\", \"u8\": -1}                  | Parameter 'u8' expects uint8_t",
        "{\"s\": \"x\", \"u32\": 4294967296}         | Parameter 'u32' expects uint32_t",
        "{\"s\": \"x\", \"u8\": \"1\"}               | Parameter 'u8' expects uint64",
        "{\"s\": \"x\", \"u64\": 18446744073709551616} | Parameter 'u64' expects uint64",
        "{\"s\": \"x\", \"u64\": -9223372036854775809} | Parameter 'u64' expects uint64",
        "{\"s\": \"x\", \"size\": 1.0}               | Parameter 'size' expects uint64",
        "{\"s\": \"x\", \"a\": {}}                   | Parameter 'a.b' is missing",
        "{\"s\": \"x\", \"a\": {\"b\": 1, \"x\": 2}} | Parameter 'a.x' is unexpected",
        "{\"s\": \"x\", \"a\": {\"b\": true}}        | Invalid parameter type for 'a.b', expected: integer",
        "{\"s\": \"x\", \"a\": {\"b\": 1, \"c\": \"x\"}} | Parameter 'c' does not accept value 'x'",
        "{\"s\": \"x\", \"list\": [1, \"2\"]}        | Invalid parameter type for 'list[1]', expected: integer",
        "{\"s\": \"x\", \"objs\": [{\"b\": 1}, {}]}  | Parameter 'objs[1].b' is missing",
        "{\"s\": \"x\", \"objs\": [{\"b\": 1, \"q\": 0}]} | Parameter 'objs[0].q' is unexpected",
        "{\"s\": \"x\", \"colors\": [\"pink\"]}      | Parameter 'null' does not accept value 'pink'",
        "{\"s\": \"x\", \"ref\": 5}                  | Invalid parameter type for 'ref', expected: NodeRef",
        "{\"s\": \"x\", \"ref\": {\"b\": \"x\"}}     | Invalid parameter type for 'ref.b', expected: integer",
    })
    void refusedWithQemuMessages(String args, String desc) {
        assertRefused(CMD, args, desc);
    }

    @Test
    void membersAreCheckedInDeclarationOrderAndUnexpectedLast() {
        assertRefused(CMD, "{\"zz\": 1, \"i\": \"no\"}", "Parameter 's' is missing");
        assertRefused(CMD, "{\"zz\": 1, \"s\": \"x\", \"i\": \"no\"}",
                "Invalid parameter type for 'i', expected: integer");
    }

    @Test
    void commandWithoutArgumentsRefusesAny() {
        CommandSpec none = new CommandSpec("none", CommandSpec.EMPTY, CommandSpec.EMPTY, "", "", a -> null);
        assertRefused(none, "{\"x\": 1}", "Parameter 'x' is unexpected");
        assertThatCode(() -> SchemaValidator.validateArguments(none, obj("{}"))).doesNotThrowAnyException();
    }

    // --- flat unions ---

    private static final EnumType KIND = new EnumType("JobType", List.of("mirror", "migration", "plain"), "");

    private static ObjectType changeArgs(boolean tagOptional) {
        Map<String, ObjectType> variants = new LinkedHashMap<>();
        variants.put("mirror", ObjectType.struct("JobChangeOptionsMirror", "",
                required("copy-mode", new EnumType("MirrorCopyMode", List.of("background", "write-blocking"), ""), "")));
        variants.put("migration", ObjectType.struct("JobChangeOptionsMigration", "",
                optional("downtime-limit", BuiltinType.UINT64, "")));
        return ObjectType.union("JobChangeOptions", "", List.of(required("id", BuiltinType.STR, ""),
                new Member("type", KIND, tagOptional, "")), "type", variants);
    }

    private static CommandSpec change(boolean tagOptional, VariantResolver resolver) {
        CommandSpec spec = new CommandSpec("job-change", changeArgs(tagOptional), CommandSpec.EMPTY, "", "",
                a -> null);
        return resolver == null ? spec : spec.withVariantResolver(resolver);
    }

    @Test
    void flatUnionValidatesCommonThenChosenVariantMembers() {
        CommandSpec spec = change(false, null);
        assertThatCode(() -> SchemaValidator.validateArguments(spec,
                obj("{\"id\": \"j\", \"type\": \"mirror\", \"copy-mode\": \"background\"}"))).doesNotThrowAnyException();
        assertThatCode(() -> SchemaValidator.validateArguments(spec,
                obj("{\"id\": \"j\", \"type\": \"plain\"}"))).as("a value without a variant adds no members")
                .doesNotThrowAnyException();
        assertRefused(spec, "{\"id\": \"j\"}", "Parameter 'type' is missing");
        assertRefused(spec, "{\"id\": \"j\", \"type\": \"disk\"}", "Parameter 'type' does not accept value 'disk'");
        assertRefused(spec, "{\"id\": \"j\", \"type\": \"mirror\"}", "Parameter 'copy-mode' is missing");
        assertRefused(spec, "{\"id\": \"j\", \"type\": \"migration\", \"copy-mode\": \"background\"}",
                "Parameter 'copy-mode' is unexpected");
        assertRefused(spec, "{\"id\": \"j\", \"type\": \"migration\", \"downtime-limit\": 1.5}",
                "Parameter 'downtime-limit' expects uint64");
    }

    @Test
    void variantResolverChoosesTheVariantWhenTheDiscriminatorIsOmitted() {
        AtomicInteger calls = new AtomicInteger();
        CommandSpec spec = change(true, args -> {
            calls.incrementAndGet();
            return args.path("id").asText().equals("mirror0") ? "mirror" : null;
        });
        ObjectNode given = obj("{\"id\": \"mirror0\", \"copy-mode\": \"write-blocking\"}");
        ObjectNode seen = SchemaValidator.validateArguments(spec, given);
        assertThat(seen.get("type").asText()).isEqualTo("mirror");
        assertThat(given.has("type")).as("the client's node is not changed").isFalse();

        assertRefused(spec, "{\"id\": \"mirror0\", \"downtime-limit\": 1}", "Parameter 'copy-mode' is missing");
        assertRefused(spec, "{\"id\": \"other\"}", "Parameter 'type' is missing");

        // Given explicitly, the resolver is not asked.
        calls.set(0);
        SchemaValidator.validateArguments(spec, obj("{\"id\": \"x\", \"type\": \"migration\"}"));
        assertThat(calls).hasValue(0);
    }

    @Test
    void variantResolverErrorsPropagate() {
        CommandSpec spec = change(true, args -> {
            throw new QmpException(ErrorClass.DeviceNotFound, "Job 'nope' not found");
        });
        assertThatThrownBy(() -> SchemaValidator.validateArguments(spec, obj("{\"id\": \"nope\"}")))
                .isInstanceOfSatisfying(QmpException.class,
                        e -> assertThat(e.errorClass()).isEqualTo(ErrorClass.DeviceNotFound));
    }

    @Test
    void optionalDiscriminatorWithoutResolverMeansCommonMembersOnly() {
        CommandSpec spec = change(true, null);
        assertThatCode(() -> SchemaValidator.validateArguments(spec, obj("{\"id\": \"j\"}"))).doesNotThrowAnyException();
        assertRefused(spec, "{\"id\": \"j\", \"copy-mode\": \"background\"}", "Parameter 'copy-mode' is unexpected");
    }

    @Test
    void alternateOfNullAndString() {
        AlternateType strOrNull = new AlternateType("StrOrNull", List.of(BuiltinType.STR, BuiltinType.NULL), "");
        CommandSpec spec = new CommandSpec("alt", CommandSpec.args("alt", required("v", strOrNull, "")),
                CommandSpec.EMPTY, "", "", a -> null);
        assertThatCode(() -> SchemaValidator.validateArguments(spec, obj("{\"v\": null}"))).doesNotThrowAnyException();
        assertThatCode(() -> SchemaValidator.validateArguments(spec, obj("{\"v\": \"s\"}"))).doesNotThrowAnyException();
        assertRefused(spec, "{\"v\": false}", "Invalid parameter type for 'v', expected: StrOrNull");
    }

    @Test
    void validateANonObjectRootNamesItAnonymous() {
        assertThatThrownBy(() -> SchemaValidator.validate(BuiltinType.STR, QmpJson.nodes().numberNode(1)))
                .hasMessage("Invalid parameter type for '<anonymous>', expected: string");
    }
}
