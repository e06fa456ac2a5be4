package dev.converge.migration.wire;

import static dev.converge.migration.wire.WireFormat.*;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Encodes stream records and return messages: pure functions that write into a buffer the
 * caller owns (the {@code put...} functions, for the sender's hot path) or return a new one
 * ({@link #encode}). All fields {@link WireFormat#ORDER little-endian}. Values are checked
 * against the same maximums the decoder applies, so this side cannot write what the other
 * side refuses.
 */
public final class StreamEncoder {
    private StreamEncoder() {
    }

    /** Writes the stream header for {@code version}. */
    public static void putHeader(ByteBuffer dst, int version) {
        ByteBuffer d = dst.order(ORDER);
        d.putInt(MAGIC).putShort((short) version).putShort((short) 0);
    }

    /** Writes a record header. */
    public static void putRecordHeader(ByteBuffer dst, RecordType type, int payloadLength) {
        if (type == RecordType.INVALID) {
            throw new IllegalArgumentException("record type INVALID is reserved");
        }
        dst.order(ORDER).putShort((short) type.code()).putShort((short) 0).putInt(payloadLength);
    }

    /** Writes a whole ZERO_PAGE record. */
    public static void putZeroPage(ByteBuffer dst, int block, long offset) {
        putRecordHeader(dst, RecordType.ZERO_PAGE, ZERO_PAGE_PAYLOAD);
        dst.putInt(block).putLong(offset);
    }

    /**
     * Writes the record header and the fixed part of a PAGE_BATCH whose {@code count} pages
     * (data) the caller writes next, in the order of {@code offsets}.
     */
    public static void putBatchHead(ByteBuffer dst, int block, long[] offsets, int count) {
        if (count < 1 || count > MAX_BATCH_PAGES) {
            throw new IllegalArgumentException("batch pages: " + count + " (expected: 1.." + MAX_BATCH_PAGES + ")");
        }
        putRecordHeader(dst, RecordType.PAGE_BATCH, BATCH_FIXED + count * (8 + PAGE_SIZE));
        dst.putInt(block).putInt(count);
        for (int i = 0; i < count; i++) {
            dst.putLong(offsets[i]);
        }
    }

    /** Writes the record header and fixed part of a PAGE whose 4 KiB of data the caller writes next. */
    public static void putPageHead(ByteBuffer dst, int block, long offset) {
        putRecordHeader(dst, RecordType.PAGE, PAGE_PAYLOAD);
        dst.putInt(block).putLong(offset);
    }

    /** Encodes one record (header included) into a new buffer, flipped for reading. */
    public static ByteBuffer encode(StreamRecord record) {
        ByteBuffer b = ByteBuffer.allocate(size(record)).order(ORDER);
        switch (record) {
            case StreamRecord.Header h -> putHeader(b, h.version());
            case StreamRecord.RamBlocks r -> {
                int payload = 4;
                for (StreamRecord.BlockInfo bi : r.blocks()) {
                    payload += 2 + nameBytes(bi.name()).length + 8;
                }
                putRecordHeader(b, RecordType.RAM_BLOCKS, payload);
                b.putShort((short) r.blocks().size()).putShort((short) 0);
                for (StreamRecord.BlockInfo bi : r.blocks()) {
                    byte[] name = nameBytes(bi.name());
                    b.putShort((short) name.length).put(name).putLong(bi.size());
                }
            }
            case StreamRecord.Page p -> {
                checkPage(p.data());
                putPageHead(b, p.block(), p.offset());
                b.put(p.data().duplicate());
            }
            case StreamRecord.ZeroPage z -> putZeroPage(b, z.block(), z.offset());
            case StreamRecord.PageBatch pb -> {
                putBatchHead(b, pb.block(), pb.offsets(), pb.offsets().length);
                if (pb.data().remaining() != pb.offsets().length * PAGE_SIZE) {
                    throw new IllegalArgumentException("batch data: " + pb.data().remaining() + " bytes (expected: "
                            + pb.offsets().length * PAGE_SIZE + ")");
                }
                b.put(pb.data().duplicate());
            }
            case StreamRecord.EndOfPass e -> {
                putRecordHeader(b, RecordType.END_OF_PASS, 8);
                b.putLong(e.pass());
            }
            case StreamRecord.DeviceState d -> {
                if (d.data().remaining() > MAX_DEVICE_STATE) {
                    throw new IllegalArgumentException("device state: " + d.data().remaining() + " bytes (expected: <= "
                            + MAX_DEVICE_STATE + ")");
                }
                putRecordHeader(b, RecordType.DEVICE_STATE, d.data().remaining());
                b.put(d.data().duplicate());
            }
            case StreamRecord.Complete c -> putRecordHeader(b, RecordType.COMPLETE, 0);
            case StreamRecord.Start s -> putRecordHeader(b, RecordType.START, 0);
            case StreamRecord.Abort a -> putRecordHeader(b, RecordType.ABORT, 0);
        }
        return b.flip();
    }

    /** Encodes one return-path message into a new buffer, flipped for reading. */
    public static ByteBuffer encode(ReturnMessage message) {
        return switch (message) {
            case ReturnMessage.AckComplete a -> ByteBuffer.allocate(RECORD_HEADER_SIZE).order(ORDER)
                    .putShort((short) ReturnType.ACK_COMPLETE.code()).putShort((short) 0).putInt(0).flip();
            case ReturnMessage.PassAck a -> ByteBuffer.allocate(RECORD_HEADER_SIZE + PASS_ACK_PAYLOAD).order(ORDER)
                    .putShort((short) ReturnType.PASS_ACK.code()).putShort((short) 0).putInt(PASS_ACK_PAYLOAD)
                    .putLong(a.pass()).flip();
            case ReturnMessage.Resumed r -> ByteBuffer.allocate(RECORD_HEADER_SIZE).order(ORDER)
                    .putShort((short) ReturnType.RESUMED.code()).putShort((short) 0).putInt(0).flip();
            case ReturnMessage.Error e -> {
                byte[] text = truncateUtf8(e.message(), MAX_ERROR_MESSAGE);
                yield ByteBuffer.allocate(RECORD_HEADER_SIZE + text.length).order(ORDER)
                        .putShort((short) ReturnType.ERROR.code()).putShort((short) 0).putInt(text.length).put(text).flip();
            }
        };
    }

    private static int size(StreamRecord record) {
        return switch (record) {
            case StreamRecord.Header h -> STREAM_HEADER_SIZE;
            case StreamRecord.RamBlocks r -> RECORD_HEADER_SIZE + 4
                    + r.blocks().stream().mapToInt(bi -> 2 + nameBytes(bi.name()).length + 8).sum();
            case StreamRecord.Page p -> RECORD_HEADER_SIZE + PAGE_PAYLOAD;
            case StreamRecord.ZeroPage z -> RECORD_HEADER_SIZE + ZERO_PAGE_PAYLOAD;
            case StreamRecord.PageBatch pb -> RECORD_HEADER_SIZE + BATCH_FIXED + pb.offsets().length * (8 + PAGE_SIZE);
            case StreamRecord.EndOfPass e -> RECORD_HEADER_SIZE + 8;
            case StreamRecord.DeviceState d -> RECORD_HEADER_SIZE + d.data().remaining();
            case StreamRecord.Complete c -> RECORD_HEADER_SIZE;
            case StreamRecord.Start s -> RECORD_HEADER_SIZE;
            case StreamRecord.Abort a -> RECORD_HEADER_SIZE;
        };
    }

    private static void checkPage(ByteBuffer data) {
        if (data.remaining() != PAGE_SIZE) {
            throw new IllegalArgumentException("page data: " + data.remaining() + " bytes (expected: " + PAGE_SIZE + ")");
        }
    }

    private static byte[] nameBytes(String name) {
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        if (b.length < 1 || b.length > MAX_BLOCK_NAME) {
            throw new IllegalArgumentException("RAM block name length: " + b.length + " (expected: 1.." + MAX_BLOCK_NAME + ")");
        }
        return b;
    }

    private static byte[] truncateUtf8(String s, int max) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length <= max) {
            return b;
        }
        int n = max;
        while (n > 0 && (b[n] & 0xC0) == 0x80) {
            n--; // do not cut a multi-byte character
        }
        return java.util.Arrays.copyOf(b, n);
    }
}
