package dev.converge.qmp.schema;

import java.util.Objects;
import java.util.function.Function;

/**
 * A Java enum bound to its QMP enum type: the schema's {@link EnumType} and the wire name of each
 * constant, so that {@link RecordType} can encode and decode members of that enum.
 *
 * @param javaType the Java enum
 * @param type     the QMP enum type (its values are the constants' wire names, in order)
 * @param wireName the wire name of a constant
 */
public record WireEnum<E extends Enum<E>>(Class<E> javaType, EnumType type, Function<E, String> wireName) {
    public WireEnum {
        Objects.requireNonNull(javaType);
        Objects.requireNonNull(type);
        Objects.requireNonNull(wireName);
    }

    /** Binds {@code javaType} to a new enum type named {@code typeName} whose values are the wire names. */
    public static <E extends Enum<E>> WireEnum<E> of(String typeName, Class<E> javaType, Function<E, String> wireName,
            String doc) {
        return new WireEnum<>(javaType, EnumType.of(typeName, javaType, wireName, doc), wireName);
    }

    /** The constant with this wire name, or null. */
    public E fromWire(String name) {
        for (E e : javaType.getEnumConstants()) {
            if (wireName.apply(e).equals(name)) {
                return e;
            }
        }
        return null;
    }

    /** The wire name of {@code value} (a constant of {@link #javaType}). */
    String wire(Object value) {
        return wireName.apply(javaType.cast(value));
    }
}
