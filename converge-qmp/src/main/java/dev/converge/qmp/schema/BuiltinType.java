package dev.converge.qmp.schema;

/**
 * QAPI's builtin types. {@code jsonType} is what introspection reports as {@code json-type}
 * ("string", "int", "number", "boolean", "null", "object", "value"). Sized integers are
 * checked against their range by the validator.
 */
public enum BuiltinType implements SchemaType {
    STR("str", "string", 0, 0),
    INT("int", "int", Long.MIN_VALUE, Long.MAX_VALUE),
    INT8("int8", "int", Byte.MIN_VALUE, Byte.MAX_VALUE),
    INT16("int16", "int", Short.MIN_VALUE, Short.MAX_VALUE),
    INT32("int32", "int", Integer.MIN_VALUE, Integer.MAX_VALUE),
    INT64("int64", "int", Long.MIN_VALUE, Long.MAX_VALUE),
    UINT8("uint8", "int", 0, 0xff),
    UINT16("uint16", "int", 0, 0xffff),
    UINT32("uint32", "int", 0, 0xffff_ffffL),
    /**
     * Unsigned 64 bits: any JSON integer of -2^63..2^64-1, negative ones wrapped as QEMU wraps them;
     * handlers read the bits as an unsigned value (the validator does not check min/max for it).
     */
    UINT64("uint64", "int", 0, Long.MAX_VALUE),
    /** A byte count; like uint64. */
    SIZE("size", "int", 0, Long.MAX_VALUE),
    NUMBER("number", "number", 0, 0),
    BOOL("bool", "boolean", 0, 0),
    NULL("null", "null", 0, 0),
    ANY("any", "value", 0, 0);

    private final String qapiName;
    private final String jsonType;
    private final long min;
    private final long max;

    BuiltinType(String qapiName, String jsonType, long min, long max) {
        this.qapiName = qapiName;
        this.jsonType = jsonType;
        this.min = min;
        this.max = max;
    }

    @Override
    public String typeName() {
        return qapiName;
    }

    /** What introspection reports as this builtin's {@code json-type}. */
    public String jsonType() {
        return jsonType;
    }

    /** Whether values of this type are JSON integers with a range check. */
    public boolean isInteger() {
        return jsonType.equals("int");
    }

    /** Smallest accepted value, for integer types. */
    public long min() {
        return min;
    }

    /** Largest accepted value, for integer types. */
    public long max() {
        return max;
    }
}
