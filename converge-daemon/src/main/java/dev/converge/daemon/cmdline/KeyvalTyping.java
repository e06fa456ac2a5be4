package dev.converge.daemon.cmdline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.schema.AlternateType;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.Member;
import dev.converge.qmp.schema.ObjectType;
import dev.converge.qmp.schema.SchemaType;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

/**
 * Gives the strings of a {@link Keyval} object the types the command's schema declares, as
 * QEMU's keyval input visitor does: integers (decimal or 0x hex), sizes with a suffix
 * (k, M, G, T, P, E; binary), booleans as on/off/yes/no/true/false, arrays from keys
 * 0, 1, ... A value that does not convert, or a member the schema does not know, is left as it
 * is: the command's own validation then names it, with QEMU's texts. Pure.
 */
public final class KeyvalTyping {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private KeyvalTyping() {
    }

    public static JsonNode coerce(JsonNode value, SchemaType type) {
        return switch (type) {
            case BuiltinType b -> value.isTextual() ? scalar(value.asText(), b, value) : value;
            case EnumType e -> value;
            case ArrayType a -> array(value, a);
            case ObjectType o -> value.isObject() ? object((ObjectNode) value, o) : value;
            case AlternateType alt -> alternate(value, alt);
        };
    }

    private static JsonNode object(ObjectNode in, ObjectType type) {
        ObjectType variant = null;
        if (type.isUnion() && in.path(type.discriminator()).isTextual()) {
            variant = type.variants().get(in.get(type.discriminator()).asText());
        }
        ObjectNode out = F.objectNode();
        for (Iterator<Map.Entry<String, JsonNode>> it = in.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            SchemaType memberType = null;
            for (Member m : type.membersWith(variant)) {
                if (m.name().equals(e.getKey())) {
                    memberType = m.type();
                    break;
                }
            }
            out.set(e.getKey(), memberType == null ? e.getValue() : coerce(e.getValue(), memberType));
        }
        return out;
    }

    private static JsonNode array(JsonNode in, ArrayType type) {
        if (!in.isObject()) {
            return in;
        }
        ArrayNode out = F.arrayNode();
        for (int i = 0; i < in.size(); i++) {
            JsonNode element = in.get(Integer.toString(i));
            if (element == null) {
                return in; // not 0..n-1: let validation say what is wrong
            }
            out.add(coerce(element, type.element()));
        }
        return out;
    }

    /** An object goes to the first object branch; a string to the first scalar branch it converts to. */
    private static JsonNode alternate(JsonNode in, AlternateType type) {
        for (SchemaType t : type.alternatives()) {
            boolean isObject = t instanceof ObjectType;
            if (in.isObject() == isObject) {
                JsonNode c = coerce(in, t);
                if (in.isObject() || !c.isTextual() || t == BuiltinType.STR || t instanceof EnumType) {
                    return c;
                }
            }
        }
        return in;
    }

    private static JsonNode scalar(String s, BuiltinType type, JsonNode original) {
        try {
            return switch (type) {
                case BOOL -> switch (s.toLowerCase(Locale.ROOT)) {
                    case "on", "yes", "true", "y" -> F.booleanNode(true);
                    case "off", "no", "false", "n" -> F.booleanNode(false);
                    default -> original;
                };
                case SIZE -> F.numberNode(size(s));
                case NUMBER -> F.numberNode(Double.parseDouble(s));
                case STR, ANY, NULL -> original;
                default -> F.numberNode(integer(s)); // every integer type; the validator checks ranges
            };
        } catch (NumberFormatException e) {
            return original;
        }
    }

    static long integer(String s) {
        String t = s.trim();
        boolean negative = t.startsWith("-");
        String digits = negative ? t.substring(1) : t;
        long v = digits.startsWith("0x") || digits.startsWith("0X")
                ? Long.parseLong(digits.substring(2), 16) : Long.parseLong(digits);
        return negative ? -v : v;
    }

    /** QEMU's size syntax: a number with an optional binary suffix (b, k, M, G, T, P, E). */
    static long size(String s) {
        String t = s.trim();
        if (t.isEmpty()) {
            throw new NumberFormatException("empty");
        }
        char last = Character.toLowerCase(t.charAt(t.length() - 1));
        int shift = switch (last) {
            case 'b' -> 0;
            case 'k' -> 10;
            case 'm' -> 20;
            case 'g' -> 30;
            case 't' -> 40;
            case 'p' -> 50;
            case 'e' -> 60;
            default -> -1;
        };
        if (shift < 0) {
            return integer(t);
        }
        String number = t.substring(0, t.length() - 1);
        if (number.contains(".")) {
            return (long) (Double.parseDouble(number) * (1L << shift));
        }
        long v = integer(number);
        if (v < 0 || (shift > 0 && v > (Long.MAX_VALUE >> shift))) {
            throw new NumberFormatException("out of range");
        }
        return v << shift;
    }
}
