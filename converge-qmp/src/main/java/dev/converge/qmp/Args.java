package dev.converge.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The validated arguments of one command. Reads are typed; because validation already
 * checked presence and types, a mismatch here is a bug in the command's declaration and
 * fails with IllegalStateException, not with a user error.
 */
public final class Args {
    private final ObjectNode node;

    public Args(ObjectNode node) {
        this.node = node;
    }

    /** The arguments as JSON, for handlers that pass a sub-object on (e.g. blockdev-add options). */
    public ObjectNode node() {
        return node;
    }

    public boolean has(String name) {
        return node.has(name) && !node.get(name).isNull();
    }

    public String str(String name) {
        return required(name).asText();
    }

    public Optional<String> optStr(String name) {
        return has(name) ? Optional.of(node.get(name).asText()) : Optional.empty();
    }

    public String str(String name, String dflt) {
        return optStr(name).orElse(dflt);
    }

    public long integer(String name) {
        return required(name).asLong();
    }

    public OptionalLong optInteger(String name) {
        return has(name) ? OptionalLong.of(node.get(name).asLong()) : OptionalLong.empty();
    }

    public long integer(String name, long dflt) {
        return optInteger(name).orElse(dflt);
    }

    public boolean bool(String name) {
        return required(name).asBoolean();
    }

    public boolean bool(String name, boolean dflt) {
        return has(name) ? node.get(name).asBoolean() : dflt;
    }

    /** The raw JSON of a member, or null when absent. */
    public JsonNode raw(String name) {
        return node.get(name);
    }

    private JsonNode required(String name) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) {
            throw new IllegalStateException("argument '" + name + "' read as required but absent; declaration bug");
        }
        return v;
    }

    @Override
    public String toString() {
        return node.toString();
    }
}
