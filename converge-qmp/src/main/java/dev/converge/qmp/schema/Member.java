package dev.converge.qmp.schema;

import java.util.Objects;

/**
 * One member of an object type.
 *
 * @param name     the wire name, e.g. "auto-finalize"
 * @param type     its type
 * @param optional whether it may be absent
 * @param doc      what it means, and its default when optional
 */
public record Member(String name, SchemaType type, boolean optional, String doc) {
    public Member {
        Objects.requireNonNull(name);
        Objects.requireNonNull(type);
        doc = doc == null ? "" : doc;
    }

    public static Member required(String name, SchemaType type, String doc) {
        return new Member(name, type, false, doc);
    }

    public static Member optional(String name, SchemaType type, String doc) {
        return new Member(name, type, true, doc);
    }
}
