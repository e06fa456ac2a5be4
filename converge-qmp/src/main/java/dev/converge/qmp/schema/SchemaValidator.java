package dev.converge.qmp.schema;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.QmpException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Checks JSON values against the schema before any handler sees them, with the messages of
 * QEMU's QObject input visitor (qapi/qobject-input-visitor.c, qapi/qapi-visit-core.c):
 * <ul>
 * <li>"Parameter 'a.b' is missing", "Parameter 'a.b' is unexpected"</li>
 * <li>"Invalid parameter type for 'list[0]', expected: integer" (also string, boolean,
 * number, object, array, null)</li>
 * <li>"Parameter 'x' does not accept value 'y'" for enums, "Parameter 'x' expects int8_t"
 * (and int16_t, int32_t, uint8_t, uint16_t, uint32_t) for values out of a sized range,
 * "Parameter 'a.x' expects uint64" for a uint64 or size that is not an integer of -2^63..2^64-1</li>
 * <li>"Invalid parameter type for 'x', expected: AlternateName" for an alternate given a JSON
 * type none of its branches takes</li>
 * </ul>
 * As in QEMU, the first three kinds name the member by its full path ({@code a.b},
 * {@code list[0].c}), while enum, range and alternate errors name it by its own name only
 * ({@code 'null'} for an array element): they come from QEMU's generic visitor core, which does
 * not know the path.
 * <p>
 * Members are checked in declaration order (common members of a flat union first, then the
 * chosen variant's), and unexpected members last; the first problem is reported. JSON
 * {@code null} is a value like any other: an optional {@code str} given {@code null} is a type
 * error, as in QEMU.
 * <p>
 * As QEMU, uint64 and size take negative numbers (wrapped: -1 is 2^64-1, for backward
 * compatibility) and numbers up to 2^64-1: a handler reads them as an unsigned 64-bit value held
 * in a long ({@code Args.integer} gives its bits) and refuses what it cannot use.
 * <p>
 * Pure and stateless apart from the variant resolver, which may read main-loop state.
 */
public final class SchemaValidator {
    private SchemaValidator() {
    }

    /**
     * Validates a command's arguments and returns those its handler should see: the given
     * node itself, or a copy with the discriminator added when the spec's
     * {@link VariantResolver} chose the variant.
     */
    public static ObjectNode validateArguments(CommandSpec spec, ObjectNode arguments) throws QmpException {
        Walker w = new Walker();
        w.checkObject(spec.arguments(), arguments, spec.variantResolver());
        if (w.resolvedDiscriminator == null) {
            return arguments;
        }
        ObjectNode copy = arguments.deepCopy();
        copy.put(spec.arguments().discriminator(), w.resolvedDiscriminator);
        return copy;
    }

    /**
     * Validates a value of {@code type} (e.g. the data of an event, or a return value in tests).
     * A non-object at the root is reported as {@code '<anonymous>'}, as QEMU does.
     */
    public static void validate(SchemaType type, JsonNode value) throws QmpException {
        Walker w = new Walker();
        if (type instanceof ObjectType o && value instanceof ObjectNode obj) {
            w.checkObject(o, obj, null);
        } else {
            w.check(type, value, null);
        }
    }

    /** One validation: the path of containers above the value being checked. */
    private static final class Walker {
        /** Names (String) and indices (Integer) of the containers we are in, outermost first. */
        private final List<Object> path = new ArrayList<>();
        /** The discriminator value a resolver supplied at the root, if any. */
        private String resolvedDiscriminator;

        void check(SchemaType type, JsonNode value, Object seg) {
            switch (type) {
                case BuiltinType b -> checkBuiltin(b, value, seg);
                case EnumType e -> {
                    if (!value.isTextual()) {
                        throw typeError(seg, "string");
                    }
                    if (!e.values().contains(value.asText())) {
                        throw QmpException.generic("Parameter '%s' does not accept value '%s'", bare(seg),
                                value.asText());
                    }
                }
                case ArrayType a -> {
                    if (!(value instanceof ArrayNode arr)) {
                        throw typeError(seg, "array");
                    }
                    enter(seg);
                    for (int i = 0; i < arr.size(); i++) {
                        check(a.element(), arr.get(i), i);
                    }
                    leave();
                }
                case ObjectType o -> {
                    if (!(value instanceof ObjectNode obj)) {
                        throw typeError(seg, "object");
                    }
                    enter(seg);
                    checkObject(o, obj, null);
                    leave();
                }
                case AlternateType alt -> {
                    SchemaType branch = alt.alternatives().stream()
                            .filter(t -> takes(t, value.getNodeType()))
                            .findFirst()
                            .orElseThrow(() -> QmpException.generic("Invalid parameter type for '%s', expected: %s",
                                    bare(seg), alt.typeName()));
                    check(branch, value, seg);
                }
            }
        }

        /** Checks the members of {@code obj} (we are inside it: its own name is on the path). */
        void checkObject(ObjectType type, ObjectNode obj, VariantResolver resolver) {
            Set<String> known = new HashSet<>();
            checkMembers(type, obj, resolver, known);
            for (Iterator<String> it = obj.fieldNames(); it.hasNext();) {
                String key = it.next();
                if (!known.contains(key)) {
                    throw QmpException.generic("Parameter '%s' is unexpected", fullName(key));
                }
            }
        }

        private void checkMembers(ObjectType type, ObjectNode obj, VariantResolver resolver, Set<String> known) {
            String tag = null;
            for (Member m : type.members()) {
                known.add(m.name());
                JsonNode v = obj.get(m.name());
                boolean isTag = m.name().equals(type.discriminator());
                if (v == null && isTag && resolver != null) {
                    String resolved = resolver.resolve(obj);
                    if (resolved == null) {
                        throw QmpException.generic("Parameter '%s' is missing", fullName(m.name()));
                    }
                    check(m.type(), obj.textNode(resolved), m.name());
                    resolvedDiscriminator = resolved;
                    tag = resolved;
                } else if (v == null) {
                    if (!m.optional()) {
                        throw QmpException.generic("Parameter '%s' is missing", fullName(m.name()));
                    }
                } else {
                    check(m.type(), v, m.name());
                    if (isTag) {
                        tag = v.asText();
                    }
                }
            }
            if (tag != null) {
                ObjectType variant = type.variants().get(tag);
                if (variant != null) {
                    checkMembers(variant, obj, null, known);
                }
            }
        }

        private void checkBuiltin(BuiltinType b, JsonNode value, Object seg) {
            switch (b) {
                case STR -> {
                    if (!value.isTextual()) {
                        throw typeError(seg, "string");
                    }
                }
                case NUMBER -> {
                    if (!value.isNumber()) {
                        throw typeError(seg, "number");
                    }
                }
                case BOOL -> {
                    if (!value.isBoolean()) {
                        throw typeError(seg, "boolean");
                    }
                }
                case NULL -> {
                    if (!value.isNull()) {
                        throw typeError(seg, "null");
                    }
                }
                case ANY -> {
                }
                case INT, INT64, INT8, INT16, INT32 -> {
                    if (!value.isIntegralNumber() || !value.canConvertToLong()) {
                        throw typeError(seg, "integer");
                    }
                    checkRange(b, value.asLong(), seg);
                }
                case UINT64, SIZE -> {
                    // QEMU's input visitor takes any int64 (a negative one wraps: -1 is the largest) and
                    // any uint64; handlers read the value as an unsigned 64-bit number in a long.
                    if (!value.isIntegralNumber() || (!value.canConvertToLong()
                            && (value.bigIntegerValue().signum() < 0 || value.bigIntegerValue().bitLength() > 64))) {
                        throw QmpException.generic("Parameter '%s' expects uint64", fullName(seg));
                    }
                }
                case UINT8, UINT16, UINT32 -> {
                    if (!value.isIntegralNumber() || !value.canConvertToLong()) {
                        throw QmpException.generic("Parameter '%s' expects uint64", fullName(seg));
                    }
                    checkRange(b, value.asLong(), seg);
                }
            }
        }

        private void checkRange(BuiltinType b, long v, Object seg) {
            if (v < b.min() || v > b.max()) {
                // QEMU names the C type here: int8_t, uint32_t, ...
                throw QmpException.generic("Parameter '%s' expects %s_t", bare(seg), b.typeName());
            }
        }

        /** Whether an alternate's branch of type {@code t} takes a value of JSON type {@code jt}. */
        private static boolean takes(SchemaType t, JsonNodeType jt) {
            return switch (t) {
                case BuiltinType b -> switch (b) {
                    case STR -> jt == JsonNodeType.STRING;
                    case BOOL -> jt == JsonNodeType.BOOLEAN;
                    case NULL -> jt == JsonNodeType.NULL;
                    case ANY -> true;
                    default -> jt == JsonNodeType.NUMBER;
                };
                case EnumType e -> jt == JsonNodeType.STRING;
                case ArrayType a -> jt == JsonNodeType.ARRAY;
                case ObjectType o -> jt == JsonNodeType.OBJECT;
                case AlternateType a -> a.alternatives().stream().anyMatch(x -> takes(x, jt));
            };
        }

        private QmpException typeError(Object seg, String expected) {
            return QmpException.generic("Invalid parameter type for '%s', expected: %s", fullName(seg), expected);
        }

        private void enter(Object seg) {
            path.add(seg);
        }

        private void leave() {
            path.removeLast();
        }

        /** QEMU's full_name(): {@code a.b}, {@code list[0]}, {@code list[0].c}. */
        private String fullName(Object leaf) {
            StringBuilder sb = new StringBuilder();
            for (Object seg : path) {
                append(sb, seg);
            }
            append(sb, leaf);
            return sb.isEmpty() ? "<anonymous>" : sb.toString();
        }

        private static void append(StringBuilder sb, Object seg) {
            if (seg instanceof Integer i) {
                sb.append('[').append(i).append(']');
            } else if (seg != null) {
                if (!sb.isEmpty()) {
                    sb.append('.');
                }
                sb.append(seg);
            }
        }

        /** The name QEMU's visitor core uses: the member's own name, "null" for array elements. */
        private static String bare(Object seg) {
            return seg instanceof String s ? s : "null";
        }
    }
}
