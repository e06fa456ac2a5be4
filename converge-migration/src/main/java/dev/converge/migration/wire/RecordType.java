package dev.converge.migration.wire;

/**
 * Record types of the stream (source → destination). Code 0 is reserved and never valid;
 * unknown codes are an error, never mapped to a default.
 *
 * <pre>
 *            ┌─────────────┐
 *  header ──▶│ RAM_BLOCKS  │ (exactly once, first)
 *            └──────┬──────┘
 *                   ▼
 *             [MULTIFD_SETUP]       (with multifd: once, right after RAM_BLOCKS)
 *             [POSTCOPY_PREEMPT]    (with postcopy-preempt: once; a preempt channel follows)
 *                   ▼
 *   ┌──▶ PAGE | ZERO_PAGE | PAGE_BATCH ... END_OF_PASS ──┐  (one pass; repeated)
 *   └────────────────────────────────────────────────────┘
 *                   ▼ (switchover: source vCPUs stopped)
 *        remaining pages, DEVICE_STATE, COMPLETE
 *                   ▼ (destination acknowledged; source job finalized)
 *             START | ABORT          (version 3 and later)
 * </pre>
 */
public enum RecordType {
    /** Reserved: a zero type code is always rejected. */
    INVALID(0),
    /** The RAM layout: names and sizes of the blocks, in index order. */
    RAM_BLOCKS(1),
    /** One page: block index, page offset, 4 KiB data. */
    PAGE(2),
    /** One page that is all zeros: block index, page offset, no data. */
    ZERO_PAGE(3),
    /** Several pages of one block (since version 2). */
    PAGE_BATCH(4),
    /** A pass over the dirty pages ended: pass number. */
    END_OF_PASS(5),
    /** The device state, opaque to the stream, bounded by {@link WireFormat#MAX_DEVICE_STATE}. */
    DEVICE_STATE(6),
    /** Everything was sent; the destination answers on the return path. */
    COMPLETE(7),
    /**
     * The source committed the switchover: the destination runs the machine (since version 3,
     * exactly one of START or ABORT follows COMPLETE).
     */
    START(8),
    /** The source rolled the switchover back: the destination discards what it received (since version 3). */
    ABORT(9),
    /**
     * Postcopy begins (capability postcopy-ram): the source's vCPUs are stopped; POSTCOPY_DISCARD
     * records, DEVICE_STATE and POSTCOPY_RUN follow, then the remaining pages in any order and
     * POSTCOPY_END. No payload.
     */
    POSTCOPY_LISTEN(10),
    /**
     * Pages whose copy on the destination is stale or absent (still dirty on the source at the
     * stop): block u32, reserved u32 = 0, first page u64, then 1..{@link WireFormat#MAX_BITMAP_WORDS}
     * bitmap words u64 (bit i of word w: page first + 64 w + i).
     */
    POSTCOPY_DISCARD(11),
    /** The destination runs the machine now (its device state came just before). No payload. */
    POSTCOPY_RUN(12),
    /**
     * Every page the source had to send was sent on this connection. In a verified stream the
     * payload is the source's RAM digest at the stop (it is stopped: computed here, outside the
     * downtime), which the destination checks once every page arrived.
     */
    POSTCOPY_END(13),
    /**
     * The first record after RAM_BLOCKS on a recovery connection of a paused postcopy: the
     * destination answers with its received bitmap and RESUME_READY. No payload.
     */
    POSTCOPY_RESUME(14),
    /**
     * Multifd (right after RAM_BLOCKS, at most once): RAM pages also travel over this many
     * extra connections (channels), each opened with a hello that names this session; an END_OF_PASS on
     * this stream is a sync point of every channel.
     */
    MULTIFD_SETUP(15),
    /**
     * Postcopy preempt (capability postcopy-preempt). On the main stream, right after RAM_BLOCKS
     * (or MULTIFD_SETUP), at most once: a preempt channel follows on a connection of its own,
     * which carries the pages the destination requested, so that they never queue behind the
     * background push. On that connection (header, RAM_BLOCKS, then this record): this is the
     * preempt channel; PAGE_BATCH and ZERO_PAGE records follow, in postcopy only. No payload.
     */
    POSTCOPY_PREEMPT(16);


    private final int code;

    RecordType(int code) {
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
    public static RecordType fromCode(int code) throws WireFormatException {
        if (code > 0 && code < values().length) {
            return values()[code];
        }
        throw new WireFormatException("record type: " + code + (code == 0 ? " (reserved)" : " (unknown)")
                + " (expected: 1.." + (values().length - 1) + ")");
    }

    /** A name for logs and errors, also for codes that are not valid. */
    public static String describe(int code) {
        return code > 0 && code < values().length ? values()[code].name() : "type " + code;
    }
}
