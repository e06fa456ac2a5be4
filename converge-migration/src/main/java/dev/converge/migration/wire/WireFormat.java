package dev.converge.migration.wire;

import java.nio.ByteOrder;

/**
 * Constants of the converge migration stream, in one place: magic, versions, byte order,
 * framing sizes and the named maximums every peer-supplied length is checked against.
 */
public final class WireFormat {
    private WireFormat() {
    }

    /** Every multi-byte field of the stream and the return path is little-endian (as the guest RAM of x86 and ARM). */
    public static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;
    /** Stream magic: the bytes "CVMS" as they appear on the wire (read as a little-endian u32). */
    public static final int MAGIC = 0x534D5643;
    /**
     * The version this code writes. Version 2 added {@link RecordType#PAGE_BATCH}; version 3
     * added the decision after COMPLETE ({@link RecordType#START} or {@link RecordType#ABORT});
     * version 4 added the return messages {@link ReturnType#PASS_ACK} and {@link ReturnType#RESUMED}
     * (the source measures the destination's lag and the real downtime with them) and the rule
     * that a page never sent is zero on the destination (which starts zeroed); version 5 turned
     * the header's reserved u16 into {@link #FLAG_VERIFIED flags}.
     */
    public static final int VERSION_CURRENT = 5;
    /** The oldest version this code still reads (current and previous are supported). */
    public static final int VERSION_PREVIOUS = 4;
    /** The first version whose header carries flags (before: a reserved u16 that must be 0). */
    public static final int VERSION_FLAGS = 5;
    /**
     * Header flag (version 5): a verified stream. Every record after the header ends with a
     * {@link #CHECKSUM_SIZE 4-byte} CRC32C trailer over its record header and the payload
     * before it (the record header's length counts the trailer), and COMPLETE carries the
     * source's {@link #DIGEST_SIZE digest} of its table of page CRC32Cs (every page as it sent
     * it: eight CRC32Cs over consecutive eighths of the table), which the destination compares
     * with the digest of its table of what it received before it acknowledges.
     */
    public static final int FLAG_VERIFIED = 1;
    /**
     * Header flag: the source may switch this migration to postcopy (its capability postcopy-ram);
     * a destination without the capability refuses the stream at once, while the source still
     * runs, rather than at the switch (QEMU's postcopy advise).
     */
    public static final int FLAG_POSTCOPY = 2;
    /** Every flag this code knows; a header with another bit set is refused. */
    public static final int KNOWN_FLAGS = FLAG_VERIFIED | FLAG_POSTCOPY;
    /** Bytes of a verified record's CRC32C trailer. */
    public static final int CHECKSUM_SIZE = 4;
    /** Bytes of the page table's digest (eight CRC32Cs) in a verified stream's COMPLETE. */
    public static final int DIGEST_SIZE = 32;
    /** The first version whose destination answers END_OF_PASS with PASS_ACK and START with RESUMED. */
    public static final int VERSION_PASS_ACKS = 4;
    /** The first version whose COMPLETE is followed by START or ABORT. */
    public static final int VERSION_DECISION = 3;
    /** Bytes of the stream header: magic u32, version u16, reserved u16. */
    public static final int STREAM_HEADER_SIZE = 8;
    /** Bytes of a record header: type u16, reserved u16, payload length u32. */
    public static final int RECORD_HEADER_SIZE = 8;

    /** Page size of the stream; every page offset is a multiple of it. */
    public static final int PAGE_SIZE = 4096;
    /** Most RAM blocks a stream may declare. */
    public static final int MAX_RAM_BLOCKS = 32;
    /** Longest RAM block name, in UTF-8 bytes. */
    public static final int MAX_BLOCK_NAME = 64;
    /** Largest RAM block a stream may declare (1 TiB). */
    public static final long MAX_BLOCK_SIZE = 1L << 40;
    /** Most pages in one {@link RecordType#PAGE_BATCH}. */
    public static final int MAX_BATCH_PAGES = 64;
    /** Largest {@link RecordType#DEVICE_STATE} payload (1 MiB). */
    public static final int MAX_DEVICE_STATE = 1 << 20;
    /** Payload of {@link ReturnType#PASS_ACK}: pass u64. */
    public static final int PASS_ACK_PAYLOAD = 8;
    /**
     * Most bitmap words in one POSTCOPY_DISCARD or RECEIVED_BITMAP (8192 pages, 32 MiB of RAM;
     * small enough for the source's return-path buffer).
     */
    public static final int MAX_BITMAP_WORDS = 128;
    /** Fixed part of a bitmap payload: block u32, reserved u32, first page u64. */
    public static final int BITMAP_FIXED = 16;
    /** Payload of {@link ReturnType#PAGE_REQUEST}: block u32, reserved u32, offset u64. */
    public static final int PAGE_REQUEST_PAYLOAD = 16;
    /** Longest error message on the return path, in UTF-8 bytes. */
    public static final int MAX_ERROR_MESSAGE = 1024;

    /** Payload of {@link RecordType#PAGE}: block u32, offset u64, data. */
    public static final int PAGE_PAYLOAD = 12 + PAGE_SIZE;
    /** Payload of {@link RecordType#ZERO_PAGE}: block u32, offset u64. */
    public static final int ZERO_PAGE_PAYLOAD = 12;
    /** Fixed part of {@link RecordType#PAGE_BATCH}: block u32, count u32; then count × (offset u64), count × data. */
    public static final int BATCH_FIXED = 8;
    /** Largest RAM_BLOCKS payload: count u16, reserved u16, per block name length u16, name, size u64. */
    public static final int MAX_RAM_BLOCKS_PAYLOAD = 4 + MAX_RAM_BLOCKS * (2 + MAX_BLOCK_NAME + 8);
    /** Largest PAGE_BATCH payload. */
    public static final int MAX_BATCH_PAYLOAD = BATCH_FIXED + MAX_BATCH_PAGES * (8 + PAGE_SIZE);
    /** Largest record, header included: a receive buffer of this size always holds a whole record. */
    public static final int MAX_RECORD_SIZE = RECORD_HEADER_SIZE + CHECKSUM_SIZE
            + Math.max(MAX_DEVICE_STATE, Math.max(MAX_BATCH_PAYLOAD, MAX_RAM_BLOCKS_PAYLOAD));
}
