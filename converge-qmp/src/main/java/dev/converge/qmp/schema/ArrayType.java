package dev.converge.qmp.schema;

/** A JSON array whose elements all have {@code element} type. */
public record ArrayType(SchemaType element) implements SchemaType {
    @Override
    public String typeName() {
        return "[" + element.typeName() + "]";
    }
}
