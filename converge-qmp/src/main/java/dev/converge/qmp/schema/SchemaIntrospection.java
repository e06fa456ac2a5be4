package dev.converge.qmp.schema;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.QmpRegistry;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Renders the registry as QEMU's {@code query-qmp-schema} result (qapi/introspect.json,
 * {@code SchemaInfo}): one entry per command, event and every type they reach, each with
 * {@code name} and {@code meta-type} plus the members of its meta-type:
 * <pre>
 * builtin    json-type
 * enum       members: [{name}], values: [..]
 * array      element-type
 * object     members: [{name, type, default?}], tag?, variants?: [{case, type}]
 * alternate  members: [{type}]
 * command    arg-type, ret-type, allow-oob: false
 * event      arg-type
 * </pre>
 * QEMU hides type names behind numbers; the format allows real names and we use them.
 * An optional member carries {@code "default": null} (default unspecified), as in QEMU.
 * Every type referenced by name is defined by an entry of the result.
 */
public final class SchemaIntrospection {
    private static final Logger LOG = LoggerFactory.getLogger(SchemaIntrospection.class);
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private SchemaIntrospection() {
    }

    /** The {@code query-qmp-schema} array for everything registered now. */
    public static ArrayNode schemaInfo(QmpRegistry registry) {
        ArrayNode out = F.arrayNode();
        Map<String, SchemaType> types = new LinkedHashMap<>();
        for (CommandSpec c : registry.commands()) {
            ObjectNode e = out.addObject();
            e.put("name", c.name());
            e.put("meta-type", "command");
            e.put("arg-type", c.arguments().typeName());
            e.put("ret-type", c.returns().typeName());
            e.put("allow-oob", false);
            collect(c.arguments(), types);
            collect(c.returns(), types);
        }
        for (EventSpec ev : registry.events()) {
            ObjectNode e = out.addObject();
            e.put("name", ev.name());
            e.put("meta-type", "event");
            e.put("arg-type", ev.data().typeName());
            collect(ev.data(), types);
        }
        types.values().forEach(t -> out.add(typeInfo(t)));
        return out;
    }

    /**
     * Every type reachable from the registry's commands and events, by name, in discovery order.
     * When two different declarations share a name the first wins and the clash is logged (a
     * declaration bug); {@link #clashes} reports them for tests.
     */
    public static Map<String, SchemaType> types(QmpRegistry registry) {
        Map<String, SchemaType> types = new LinkedHashMap<>();
        registry.commands().forEach(c -> {
            collect(c.arguments(), types);
            collect(c.returns(), types);
        });
        registry.events().forEach(e -> collect(e.data(), types));
        return types;
    }

    /** Names declared twice with different content (should be empty). */
    public static List<String> clashes(QmpRegistry registry) {
        List<String> clashes = new ArrayList<>();
        Map<String, SchemaType> types = new LinkedHashMap<>();
        registry.commands().forEach(c -> {
            collect(c.arguments(), types, clashes);
            collect(c.returns(), types, clashes);
        });
        registry.events().forEach(e -> collect(e.data(), types, clashes));
        return clashes;
    }

    private static void collect(SchemaType t, Map<String, SchemaType> types) {
        List<String> clashes = new ArrayList<>();
        collect(t, types, clashes);
        clashes.forEach(name -> LOG.warn("schema type {} declared twice with different content; first kept", name));
    }

    private static void collect(SchemaType t, Map<String, SchemaType> types, List<String> clashes) {
        SchemaType known = types.get(t.typeName());
        if (known != null) {
            if (!known.equals(t) && !clashes.contains(t.typeName())) {
                clashes.add(t.typeName());
            }
            return;
        }
        types.put(t.typeName(), t);
        switch (t) {
            case BuiltinType b -> {
            }
            case EnumType e -> {
            }
            case ArrayType a -> collect(a.element(), types, clashes);
            case ObjectType o -> {
                o.members().forEach(m -> collect(m.type(), types, clashes));
                o.variants().values().forEach(v -> collect(v, types, clashes));
            }
            case AlternateType a -> a.alternatives().forEach(x -> collect(x, types, clashes));
        }
    }

    private static ObjectNode typeInfo(SchemaType t) {
        ObjectNode e = F.objectNode();
        e.put("name", t.typeName());
        switch (t) {
            case BuiltinType b -> {
                e.put("meta-type", "builtin");
                e.put("json-type", b.jsonType());
            }
            case EnumType en -> {
                e.put("meta-type", "enum");
                ArrayNode members = e.putArray("members");
                en.values().forEach(v -> members.addObject().put("name", v));
                ArrayNode values = e.putArray("values");
                en.values().forEach(values::add);
            }
            case ArrayType a -> {
                e.put("meta-type", "array");
                e.put("element-type", a.element().typeName());
            }
            case ObjectType o -> {
                e.put("meta-type", "object");
                ArrayNode members = e.putArray("members");
                for (Member m : o.members()) {
                    ObjectNode mi = members.addObject();
                    mi.put("name", m.name());
                    mi.put("type", m.type().typeName());
                    if (m.optional()) {
                        mi.putNull("default");
                    }
                }
                if (o.isUnion()) {
                    e.put("tag", o.discriminator());
                    ArrayNode variants = e.putArray("variants");
                    o.variants().forEach((value, type) -> {
                        ObjectNode v = variants.addObject();
                        v.put("case", value);
                        v.put("type", type.typeName());
                    });
                }
            }
            case AlternateType a -> {
                e.put("meta-type", "alternate");
                ArrayNode members = e.putArray("members");
                a.alternatives().forEach(x -> members.addObject().put("type", x.typeName()));
            }
        }
        return e;
    }
}
