package dev.converge.qmp.schema;

/**
 * A type of the QMP schema, as QEMU's QAPI knows them: builtins, enums, arrays, objects
 * (structs, and flat unions as objects with a discriminator) and alternates.
 * Every command's arguments and return value and every event's data are declared with these
 * once; argument validation, {@code query-qmp-schema} and the docs derive from them.
 */
public sealed interface SchemaType permits BuiltinType, EnumType, ArrayType, ObjectType, AlternateType {
    /** The name used in introspection and error messages ("int", "JobStatus", "[JobInfo]", ...). */
    String typeName();
}
