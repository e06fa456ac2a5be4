package dev.converge.qmp.schema;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A JSON object: a struct, or a flat union when {@code discriminator} is set.
 * <p>
 * A flat union has common {@code members} (one of them, the discriminator, an enum) and, for
 * each value of the discriminator, a variant type whose members sit beside the common ones in
 * the same JSON object. Values of the discriminator without a variant add no members.
 *
 * @param typeName      name in introspection and docs
 * @param members       the common members, in wire order
 * @param discriminator name of the member that selects the variant, or null for a struct
 * @param variants      discriminator value → object type whose members are added
 * @param doc           what the type is
 */
public record ObjectType(String typeName, List<Member> members, String discriminator,
        Map<String, ObjectType> variants, String doc) implements SchemaType {

    public ObjectType {
        members = List.copyOf(members);
        // Variants keep their declaration order when given one (a SequencedMap); a map without an
        // order (Map.of) gets alphabetical order, so that introspection and docs are the same on
        // every run.
        Map<String, ObjectType> ordered = variants instanceof java.util.SequencedMap<String, ObjectType>
                ? new LinkedHashMap<>(variants) : new java.util.TreeMap<>(variants);
        variants = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(ordered));
        doc = doc == null ? "" : doc;
    }

    /** A plain struct. */
    public static ObjectType struct(String typeName, String doc, Member... members) {
        return new ObjectType(typeName, List.of(members), null, Map.of(), doc);
    }

    /** A plain struct. */
    public static ObjectType struct(String typeName, String doc, List<Member> members) {
        return new ObjectType(typeName, members, null, Map.of(), doc);
    }

    /** A flat union over {@code discriminator} (which must be one of {@code members}). */
    public static ObjectType union(String typeName, String doc, List<Member> members, String discriminator,
            Map<String, ObjectType> variants) {
        return new ObjectType(typeName, members, discriminator, variants, doc);
    }

    public boolean isUnion() {
        return discriminator != null;
    }

    public Optional<Member> member(String name) {
        return members.stream().filter(m -> m.name().equals(name)).findFirst();
    }

    /** This type with {@code variant}'s members added after its own (a union resolved to one branch). */
    public List<Member> membersWith(ObjectType variant) {
        List<Member> all = new ArrayList<>(members);
        if (variant != null) {
            all.addAll(variant.members());
        }
        return all;
    }

    /** A copy of this type with one more variant (used when modules register job types). */
    public ObjectType withVariant(String value, ObjectType variant) {
        Map<String, ObjectType> more = new LinkedHashMap<>(variants);
        more.put(value, variant);
        return new ObjectType(typeName, members, discriminator, more, doc);
    }
}
