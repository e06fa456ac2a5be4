package dev.converge.migration.wire;

/** Message types of the return path (destination → source). Code 0 is reserved. */
public enum ReturnType {
    /** Reserved: a zero type code is always rejected. */
    INVALID(0),
    /** The destination holds all state (answer to COMPLETE). */
    ACK_COMPLETE(1),
    /** The destination failed; payload is a UTF-8 message. The stream ends. */
    ERROR(2),
    /**
     * The destination applied every record up to END_OF_PASS {@code pass} (payload: pass u64;
     * since version 4). The source times it to learn how far the destination lags behind.
     */
    PASS_ACK(3),
    /**
     * The destination applied START and left {@code inmigrate} (running, or paused without
     * autostart); since version 4. The downtime ends here.
     */
    RESUMED(4),
    /** Postcopy: a vCPU waits for this page: block u32, reserved u32 = 0, page offset u64. */
    PAGE_REQUEST(5),
    /**
     * Postcopy recovery: pages the destination holds, in the layout of
     * {@link RecordType#POSTCOPY_DISCARD} (block, reserved, first page, bitmap words).
     */
    RECEIVED_BITMAP(6),
    /** Postcopy recovery: the received bitmap is complete; the source may go on. No payload. */
    RESUME_READY(7),
    /** Postcopy: the destination holds every page; the migration is over. No payload. */
    POSTCOPY_DONE(8);

    private final int code;

    ReturnType(int code) {
        this.code = code;
    }

    /** The u16 on the wire. */
    public int code() {
        return code;
    }

    /**
     * The type with {@code code}.
     *
     * @throws WireFormatException for 0 (reserved) and unknown codes
     */
    public static ReturnType fromCode(int code) throws WireFormatException {
        if (code > 0 && code < values().length) {
            return values()[code];
        }
        throw new WireFormatException("return type: " + code + (code == 0 ? " (reserved)" : " (unknown)")
                + " (expected: 1.." + (values().length - 1) + ")");
    }
}
