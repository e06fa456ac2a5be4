package dev.converge.qmp.schema;

import java.util.List;

/** An enumeration: a string restricted to {@code values}, in declaration order. */
public record EnumType(String typeName, List<String> values, String doc) implements SchemaType {
    public EnumType {
        values = List.copyOf(values);
    }

    /** An enum whose values are the wire names of a Java enum's constants. */
    public static <E extends Enum<E>> EnumType of(String typeName, Class<E> type,
            java.util.function.Function<E, String> wireName, String doc) {
        return new EnumType(typeName, java.util.Arrays.stream(type.getEnumConstants()).map(wireName).toList(), doc);
    }
}
