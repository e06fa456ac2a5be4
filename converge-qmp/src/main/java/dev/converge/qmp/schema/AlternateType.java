package dev.converge.qmp.schema;

import java.util.List;

/**
 * A value that may have one of several types, told apart by its JSON type (QAPI's alternate),
 * e.g. a block node given either by name (a string) or inline (an object).
 */
public record AlternateType(String typeName, List<SchemaType> alternatives, String doc) implements SchemaType {
    public AlternateType {
        alternatives = List.copyOf(alternatives);
    }
}
