package dev.converge.qmp.schema;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.QmpException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A Java record as a QMP struct, declared once: the record's components, in order, are the
 * struct's members; {@link QmpDoc} on the record and on each component gives the docs (and the
 * QAPI type where the Java type does not say it). From that one declaration this class derives
 * the schema ({@link #schema()}), decodes a validated JSON object into the record
 * ({@link #decode}) and encodes a record as JSON ({@link #encode}).
 *
 * <h2>Java type → QMP member</h2>
 * {@code String} → str; {@code long}/{@code int} → int (or {@link QmpDoc#type()}); {@code boolean}
 * → bool; {@code double} → number; an enum given as a {@link WireEnum} → that enum type;
 * {@code List<T>} → {@code [T]}; {@code Optional<T>} and {@code OptionalLong} → an optional member
 * (absent when empty). Anything else is refused when the type is made, so a declaration error
 * shows at wiring time, not at the first command.
 *
 * @param <R> the record
 */
public final class RecordType<R extends Record> {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    /** How one component maps to one member. */
    private record Field(RecordComponent component, String wireName, boolean optional, Type valueType,
            SchemaType schemaType) {
    }

    private final Class<R> javaType;
    private final ObjectType schema;
    private final List<Field> fields;
    private final Map<Class<?>, WireEnum<?>> enums;
    private final Constructor<R> constructor;

    private RecordType(Class<R> javaType, String typeName, Map<Class<?>, WireEnum<?>> enums) {
        this.javaType = javaType;
        this.enums = enums;
        QmpDoc doc = javaType.getAnnotation(QmpDoc.class);
        if (doc == null) {
            throw new IllegalArgumentException(javaType.getName() + ": a QMP record needs @QmpDoc");
        }
        List<Field> fs = new ArrayList<>();
        List<Member> members = new ArrayList<>();
        RecordComponent[] components = javaType.getRecordComponents();
        Class<?>[] types = new Class<?>[components.length];
        for (int i = 0; i < components.length; i++) {
            RecordComponent c = components[i];
            types[i] = c.getType();
            QmpDoc d = c.getAnnotation(QmpDoc.class);
            if (d == null) {
                throw new IllegalArgumentException(javaType.getName() + "." + c.getName() + ": needs @QmpDoc");
            }
            boolean optional = c.getType() == Optional.class || c.getType() == OptionalLong.class;
            Type valueType = c.getType() == Optional.class ? argument(c.getGenericType())
                    : c.getType() == OptionalLong.class ? long.class : c.getGenericType();
            SchemaType st = schemaType(valueType, d.type(), javaType.getName() + "." + c.getName());
            c.getAccessor().setAccessible(true); // records declared in tests or non-public nests
            Field f = new Field(c, kebab(c.getName()), optional, valueType, st);
            fs.add(f);
            members.add(new Member(f.wireName(), st, optional, d.value()));
        }
        this.fields = List.copyOf(fs);
        this.schema = ObjectType.struct(typeName, doc.value(), members);
        try {
            this.constructor = javaType.getDeclaredConstructor(types);
            this.constructor.setAccessible(true);
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException(javaType.getName() + ": no canonical constructor", e);
        }
    }

    /**
     * The QMP struct {@code typeName} of record {@code javaType}.
     *
     * @param enums the enums its components use
     * @throws IllegalArgumentException a component without {@link QmpDoc} or of a type with no QMP mapping
     */
    public static <R extends Record> RecordType<R> of(Class<R> javaType, String typeName, WireEnum<?>... enums) {
        Map<Class<?>, WireEnum<?>> m = new HashMap<>();
        for (WireEnum<?> e : enums) {
            m.put(e.javaType(), e);
        }
        return new RecordType<>(Objects.requireNonNull(javaType), Objects.requireNonNull(typeName), m);
    }

    public Class<R> javaType() {
        return javaType;
    }

    /** The struct, members in component order. */
    public ObjectType schema() {
        return schema;
    }

    /**
     * The record of a JSON object, checked against {@link #schema()} first with the schema
     * validator (so a command whose arguments the server validated already passes, and a direct
     * caller gets the same errors as a client would).
     *
     * @throws QmpException the validator's error ("Parameter 'x' does not accept value 'y'", ...)
     */
    public R decode(JsonNode object) throws QmpException {
        SchemaValidator.validate(schema, object);
        Object[] args = new Object[fields.size()];
        for (int i = 0; i < args.length; i++) {
            Field f = fields.get(i);
            JsonNode v = object.get(f.wireName());
            boolean absent = v == null || v.isNull();
            if (f.component().getType() == OptionalLong.class) {
                args[i] = absent ? OptionalLong.empty() : OptionalLong.of(v.asLong());
            } else if (f.optional()) {
                args[i] = absent ? Optional.empty() : Optional.of(decodeValue(f.valueType(), v));
            } else {
                if (absent) {
                    throw new IllegalArgumentException("member '" + f.wireName() + "' missing (validator bug)");
                }
                args[i] = decodeValue(f.valueType(), v);
            }
        }
        try {
            return constructor.newInstance(args);
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The JSON object of {@code value}: members in component order, empty optionals left out. */
    public ObjectNode encode(R value) {
        ObjectNode o = NODES.objectNode();
        for (Field f : fields) {
            Object v;
            try {
                v = f.component().getAccessor().invoke(value);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
            if (v instanceof OptionalLong ol) {
                if (ol.isPresent()) {
                    o.put(f.wireName(), ol.getAsLong());
                }
            } else if (v instanceof Optional<?> opt) {
                opt.ifPresent(x -> o.set(f.wireName(), encodeValue(x)));
            } else {
                o.set(f.wireName(), encodeValue(Objects.requireNonNull(v, f.wireName())));
            }
        }
        return o;
    }

    private SchemaType schemaType(Type t, String declared, String where) {
        if (t instanceof ParameterizedType p && p.getRawType() == List.class) {
            return new ArrayType(schemaType(p.getActualTypeArguments()[0], declared, where));
        }
        if (!(t instanceof Class<?> c)) {
            throw new IllegalArgumentException(where + ": no QMP type for " + t);
        }
        if (c == long.class || c == Long.class || c == int.class || c == Integer.class) {
            if (declared.isEmpty()) {
                return BuiltinType.INT;
            }
            for (BuiltinType b : BuiltinType.values()) {
                if (b.typeName().equals(declared) && b.isInteger()) {
                    return b;
                }
            }
            throw new IllegalArgumentException(where + ": '" + declared + "' is no QAPI integer type");
        }
        if (!declared.isEmpty()) {
            throw new IllegalArgumentException(where + ": only integers take a declared type");
        }
        if (c == String.class) {
            return BuiltinType.STR;
        }
        if (c == boolean.class || c == Boolean.class) {
            return BuiltinType.BOOL;
        }
        if (c == double.class || c == Double.class) {
            return BuiltinType.NUMBER;
        }
        WireEnum<?> e = enums.get(c);
        if (e != null) {
            return e.type();
        }
        throw new IllegalArgumentException(where + ": no QMP type for " + c.getName()
                + (c.isEnum() ? " (pass its WireEnum)" : ""));
    }

    private Object decodeValue(Type t, JsonNode v) {
        if (t instanceof ParameterizedType p) {
            List<Object> out = new ArrayList<>();
            for (JsonNode x : v) {
                out.add(decodeValue(p.getActualTypeArguments()[0], x));
            }
            return List.copyOf(out);
        }
        Class<?> c = (Class<?>) t;
        if (c == long.class || c == Long.class) {
            return v.asLong();
        }
        if (c == int.class || c == Integer.class) {
            return v.asInt();
        }
        if (c == String.class) {
            return v.asText();
        }
        if (c == boolean.class || c == Boolean.class) {
            return v.asBoolean();
        }
        if (c == double.class || c == Double.class) {
            return v.asDouble();
        }
        Object e = enums.get(c).fromWire(v.asText());
        if (e == null) {
            throw new IllegalArgumentException("'" + v.asText() + "' is no " + c.getSimpleName() + " (validator bug)");
        }
        return e;
    }

    private JsonNode encodeValue(Object v) {
        return switch (v) {
            case Long l -> NODES.numberNode(l);
            case Integer i -> NODES.numberNode(i);
            case String s -> NODES.textNode(s);
            case Boolean b -> NODES.booleanNode(b);
            case Double d -> NODES.numberNode(d);
            case List<?> list -> {
                ArrayNode a = NODES.arrayNode();
                list.forEach(x -> a.add(encodeValue(x)));
                yield a;
            }
            case Enum<?> e -> NODES.textNode(enums.get(e.getDeclaringClass()).wire(e));
            default -> throw new IllegalArgumentException("no QMP encoding for " + v.getClass().getName());
        };
    }

    private static Type argument(Type optional) {
        if (optional instanceof ParameterizedType p) {
            return p.getActualTypeArguments()[0];
        }
        throw new IllegalArgumentException("raw Optional: " + optional);
    }

    /** {@code dirtyBytes} → {@code dirty-bytes}. */
    static String kebab(String camel) {
        StringBuilder sb = new StringBuilder();
        for (char ch : camel.toCharArray()) {
            if (Character.isUpperCase(ch)) {
                sb.append('-').append(Character.toLowerCase(ch));
            } else {
                sb.append(ch);
            }
        }
        return sb.toString().toLowerCase(Locale.ROOT);
    }
}
