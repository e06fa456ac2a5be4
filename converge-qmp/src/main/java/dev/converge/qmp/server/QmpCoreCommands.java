package dev.converge.qmp.server;

import static dev.converge.qmp.schema.BuiltinType.BOOL;
import static dev.converge.qmp.schema.BuiltinType.ANY;
import static dev.converge.qmp.schema.BuiltinType.INT;
import static dev.converge.qmp.schema.BuiltinType.STR;
import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.ObjectType;
import dev.converge.qmp.schema.SchemaIntrospection;
import dev.converge.qmp.wire.QmpJson;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The commands every QMP server has (QEMU's qapi/control.json and qapi/introspect.json):
 * {@code qmp_capabilities}, {@code query-commands}, {@code query-version} and
 * {@code query-qmp-schema}. They are declared in the registry like any other command, so that
 * they appear in introspection and the docs.
 * <p>
 * {@code qmp_capabilities} changes the state of the connection it arrives on, so the server
 * runs it itself (see {@link QmpDispatcher}); its registered handler is never called by the
 * server.
 */
public final class QmpCoreCommands {
    /** QEMU's QMPCapability; we offer none of its values (no out-of-band execution). */
    public static final EnumType QMP_CAPABILITY = new EnumType("QMPCapability", List.of("oob"),
            "Capabilities a QMP client may enable with qmp_capabilities.\n"
                    + "oob: out-of-band command execution (not offered by converge).");

    /** The declaration of {@code qmp_capabilities}. */
    public static final CommandSpec QMP_CAPABILITIES = new CommandSpec("qmp_capabilities",
            CommandSpec.args("qmp_capabilities",
                    optional("enable", new ArrayType(QMP_CAPABILITY), "capabilities to enable (default: none)")),
            CommandSpec.EMPTY,
            "Leaves capabilities negotiation mode, enabling the given capabilities; until then no other "
                    + "command is accepted. Errors: an unknown or unavailable capability; a second call "
                    + "(\"Capabilities negotiation is already complete, command ignored\").",
            "0.1.0",
            args -> {
                throw new IllegalStateException("qmp_capabilities is run by the QMP server for its connection");
            });

    private static final EnumType META_TYPE = new EnumType("SchemaMetaType",
            List.of("builtin", "enum", "array", "object", "alternate", "command", "event"),
            "The kind of a schema entity.");
    private static final EnumType JSON_TYPE = new EnumType("JSONType",
            List.of("string", "number", "int", "boolean", "null", "object", "array", "value"),
            "The JSON type of a builtin ('value': any JSON value).");

    /** QEMU's SchemaInfo, the element type of {@code query-qmp-schema}. */
    public static final ObjectType SCHEMA_INFO = schemaInfoType();

    private QmpCoreCommands() {
    }

    /** Registers the four core commands. */
    public static void register(QmpRegistry registry, ServerIdentity identity) {
        registry.register(QMP_CAPABILITIES);

        ObjectType commandInfo = ObjectType.struct("CommandInfo", "A command the server accepts.",
                required("name", STR, "the command name"));
        registry.register(new CommandSpec("query-commands", CommandSpec.EMPTY, new ArrayType(commandInfo),
                "Lists the commands the server accepts.", "0.1.0", args -> {
                    ArrayNode out = QmpJson.nodes().arrayNode();
                    registry.commands().forEach(c -> out.addObject().put("name", c.name()));
                    return out;
                }));

        ObjectType triple = ObjectType.struct("VersionTriple", "A version number.",
                required("major", INT, "major version"),
                required("minor", INT, "minor version"),
                required("micro", INT, "micro version"));
        ObjectType versionInfo = ObjectType.struct("VersionInfo", "What the server is.",
                required("qemu", triple, "the QEMU version whose QMP this server follows"),
                required("package", STR, "the server package and its version"));
        registry.register(new CommandSpec("query-version", CommandSpec.EMPTY, versionInfo,
                "Returns the server's version.", "0.1.0", args -> {
                    ObjectNode out = QmpJson.object();
                    ObjectNode qemu = out.putObject("qemu");
                    qemu.put("major", identity.major());
                    qemu.put("minor", identity.minor());
                    qemu.put("micro", identity.micro());
                    out.put("package", identity.pkg());
                    return out;
                }));

        registry.register(new CommandSpec("query-qmp-schema", CommandSpec.EMPTY, new ArrayType(SCHEMA_INFO),
                "Returns the QMP schema: every command, event and type the server knows, in QEMU's "
                        + "SchemaInfo format with real type names.", "0.1.0",
                args -> SchemaIntrospection.schemaInfo(registry)));
    }

    private static ObjectType schemaInfoType() {
        ObjectType enumMember = ObjectType.struct("SchemaInfoEnumMember", "An enum value.",
                required("name", STR, "the value"));
        ObjectType objectMember = ObjectType.struct("SchemaInfoObjectMember", "An object member.",
                required("name", STR, "the member name"),
                required("type", STR, "the member's type name"),
                optional("default", ANY, "present (null) when the member is optional"));
        ObjectType objectVariant = ObjectType.struct("SchemaInfoObjectVariant", "A flat union branch.",
                required("case", STR, "the discriminator value"),
                required("type", STR, "the name of the object type whose members it adds"));
        ObjectType alternateMember = ObjectType.struct("SchemaInfoAlternateMember", "An alternate branch.",
                required("type", STR, "the branch's type name"));

        Map<String, ObjectType> variants = new LinkedHashMap<>();
        variants.put("builtin", ObjectType.struct("SchemaInfoBuiltin", "A builtin type.",
                required("json-type", JSON_TYPE, "its JSON type")));
        variants.put("enum", ObjectType.struct("SchemaInfoEnum", "An enumeration.",
                required("members", new ArrayType(enumMember), "the values"),
                required("values", new ArrayType(STR), "the values again (deprecated in QEMU)")));
        variants.put("array", ObjectType.struct("SchemaInfoArray", "An array type.",
                required("element-type", STR, "the element type's name")));
        variants.put("object", ObjectType.struct("SchemaInfoObject", "An object type.",
                required("members", new ArrayType(objectMember), "the (common) members"),
                optional("tag", STR, "the discriminator of a flat union"),
                optional("variants", new ArrayType(objectVariant), "the branches of a flat union")));
        variants.put("alternate", ObjectType.struct("SchemaInfoAlternate", "An alternate type.",
                required("members", new ArrayType(alternateMember), "the branches")));
        variants.put("command", ObjectType.struct("SchemaInfoCommand", "A command.",
                required("arg-type", STR, "the argument object type"),
                required("ret-type", STR, "the return type"),
                optional("allow-oob", BOOL, "whether it may run out of band (always false)")));
        variants.put("event", ObjectType.struct("SchemaInfoEvent", "An event.",
                required("arg-type", STR, "the data object type")));
        return ObjectType.union("SchemaInfo", "One entity of the QMP schema.",
                List.of(required("name", STR, "the entity's name"),
                        required("meta-type", META_TYPE, "what kind of entity it is")),
                "meta-type", variants);
    }
}
