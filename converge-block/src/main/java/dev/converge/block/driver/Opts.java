package dev.converge.block.driver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.QmpException;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * Reads one options object the way QEMU's QObject input visitor does, with its error texts:
 * "Parameter 'x' is missing", "Invalid parameter type for 'x', expected: T",
 * "Parameter 'x' does not accept value 'v'", and, from {@link #done()}, "Parameter 'x' is
 * unexpected" for a member nobody read. Names of nested members are given with their path
 * ("file.filename"), as QEMU does.
 */
final class Opts {
    private final ObjectNode json;
    private final String prefix;
    private final Set<String> read = new HashSet<>();

    Opts(ObjectNode json, String prefix) {
        this.json = json;
        this.prefix = prefix;
    }

    String path(String name) {
        return prefix + name;
    }

    private JsonNode get(String name) {
        read.add(name);
        JsonNode v = json.get(name);
        return v == null || v.isNull() ? null : v;
    }

    private QmpException type(String name, String expected) {
        return QmpException.generic("Invalid parameter type for '%s', expected: %s", path(name), expected);
    }

    String str(String name) {
        return optStr(name).orElseThrow(() -> QmpException.generic("Parameter '%s' is missing", path(name)));
    }

    Optional<String> optStr(String name) {
        JsonNode v = get(name);
        if (v == null) {
            return Optional.empty();
        }
        if (!v.isTextual()) {
            throw type(name, "string");
        }
        return Optional.of(v.asText());
    }

    OptionalLong optInt(String name, boolean unsigned) {
        JsonNode v = get(name);
        if (v == null) {
            return OptionalLong.empty();
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong() || (unsigned && v.asLong() < 0)) {
            throw type(name, unsigned ? "uint64" : "integer");
        }
        return OptionalLong.of(v.asLong());
    }

    Optional<Boolean> optBool(String name) {
        JsonNode v = get(name);
        if (v == null) {
            return Optional.empty();
        }
        if (!v.isBoolean()) {
            throw type(name, "boolean");
        }
        return Optional.of(v.asBoolean());
    }

    Optional<String> optEnum(String name, List<String> values) {
        Optional<String> s = optStr(name);
        if (s.isPresent() && !values.contains(s.get())) {
            throw QmpException.generic("Parameter '%s' does not accept value '%s'", path(name), s.get());
        }
        return s;
    }

    String requiredEnum(String name, List<String> values) {
        return optEnum(name, values).orElseThrow(() -> QmpException.generic("Parameter '%s' is missing", path(name)));
    }

    Optional<Opts> optObject(String name) {
        JsonNode v = get(name);
        if (v == null) {
            return Optional.empty();
        }
        if (!v.isObject()) {
            throw type(name, "object");
        }
        return Optional.of(new Opts((ObjectNode) v, path(name) + "."));
    }

    /** A list of objects, each read by the caller. */
    List<Opts> optObjectList(String name) {
        JsonNode v = get(name);
        if (v == null) {
            return List.of();
        }
        if (!v.isArray()) {
            throw type(name, "array");
        }
        List<Opts> out = new java.util.ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            JsonNode e = v.get(i);
            if (!e.isObject()) {
                throw QmpException.generic("Invalid parameter type for '%s[%d]', expected: object", path(name), i);
            }
            out.add(new Opts((ObjectNode) e, path(name) + "[" + i + "]."));
        }
        return out;
    }

    /** A list of enum values (accepted, for options that do not change our behaviour). */
    List<String> optEnumList(String name, List<String> values) {
        JsonNode v = get(name);
        if (v == null) {
            return List.of();
        }
        if (!v.isArray()) {
            throw type(name, "array");
        }
        List<String> out = new java.util.ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            JsonNode e = v.get(i);
            if (!e.isTextual() || !values.contains(e.asText())) {
                throw QmpException.generic("Parameter '%s[%d]' does not accept value '%s'", path(name), i, e.asText());
            }
            out.add(e.asText());
        }
        return out;
    }

    /** A BlockdevRef: a node name (string) or inline options (object). */
    JsonNode ref(String name) {
        JsonNode v = get(name);
        if (v == null) {
            throw QmpException.generic("Parameter '%s' is missing", path(name));
        }
        if (!v.isTextual() && !v.isObject()) {
            throw type(name, "BlockdevRef");
        }
        return v;
    }

    /**
     * A BlockdevRefOrNull: empty when absent, a JSON null for an explicit null ("no backing"),
     * else a node name or inline options.
     */
    Optional<JsonNode> optRefOrNull(String name) {
        read.add(name);
        JsonNode v = json.get(name);
        if (v == null) {
            return Optional.empty();
        }
        if (!v.isNull() && !v.isTextual() && !v.isObject()) {
            throw type(name, "BlockdevRefOrNull");
        }
        return Optional.of(v);
    }

    /** Whether the member was given (even as null), marking it read. */
    boolean present(String name) {
        read.add(name);
        return json.has(name);
    }

    /** The given members among {@code names}, copied into a new object and marked read (for driver plugins). */
    ObjectNode take(java.util.Collection<String> names) {
        ObjectNode out = json.objectNode();
        for (String n : names) {
            JsonNode v = get(n);
            if (v != null) {
                out.set(n, v);
            }
        }
        return out;
    }

    /** Refuses the first member nobody read. */
    void done() {
        for (Iterator<String> it = json.fieldNames(); it.hasNext();) {
            String k = it.next();
            if (!read.contains(k)) {
                throw QmpException.generic("Parameter '%s' is unexpected", path(k));
            }
        }
    }
}
