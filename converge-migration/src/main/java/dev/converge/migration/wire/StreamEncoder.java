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
 * <p>
 * A verified stream ({@link WireFormat#FLAG_VERIFIED}) ends every record with a CRC32C trailer:
 * the {@code verified} variants count it in the record header's length, and {@link #seal}
 * writes it once the record's bytes are in place.
 */
public final class StreamEncoder {
    private StreamEncoder() {
    }

    /** Writes the stream header for {@code version}, without flags. */
    public static void putHeader(ByteBuffer dst, int version) {
        putHeader(dst, version, 0);
    }

    /** Writes the stream header for {@code version} with {@code flags} (version 5 and later). */
    public static void putHeader(ByteBuffer dst, int version, int flags) {
        if ((flags & ~KNOWN_FLAGS) != 0 || (flags != 0 && version < VERSION_FLAGS)) {
            throw new IllegalArgumentException("header flags: 0x" + Integer.toHexString(flags) + " in version " + version);
        }
        ByteBuffer d = dst.order(ORDER);
        d.putInt(MAGIC).putShort((short) version).putShort((short) flags);
    }

    /**
     * Writes the CRC32C trailer of the verified record that starts at {@code recordStart} in
     * {@code dst} and ends at its position (record header and payload before the trailer).
     */
    public static void seal(ByteBuffer dst, int recordStart) {
        dst.order(ORDER).putInt(Checksums.crc32c(dst, recordStart, dst.position()));
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
        putZeroPage(dst, block, offset, false);
    }

    /** Writes a whole ZERO_PAGE record, sealed when {@code verified}. */
    public static void putZeroPage(ByteBuffer dst, int block, long offset, boolean verified) {
        int start = dst.position();
        putRecordHeader(dst, RecordType.ZERO_PAGE, ZERO_PAGE_PAYLOAD + trailer(verified));
        dst.putInt(block).putLong(offset);
        if (verified) {
            seal(dst, start);
        }
    }

    private static int trailer(boolean verified) {
        return verified ? CHECKSUM_SIZE : 0;
    }

    /**
     * Writes the record header and the fixed part of a PAGE_BATCH whose {@code count} pages
     * (data) the caller writes next, in the order of {@code offsets}.
     */
    public static void putBatchHead(ByteBuffer dst, int block, long[] offsets, int count) {
        putBatchHead(dst, block, offsets, count, false);
    }

    /**
     * As {@link #putBatchHead(ByteBuffer, int, long[], int)}; when {@code verified} the length
     * counts the CRC32C trailer, which the caller writes after the pages (over this head and the pages).
     */
    public static void putBatchHead(ByteBuffer dst, int block, long[] offsets, int count, boolean verified) {
        if (count < 1 || count > MAX_BATCH_PAGES) {
            throw new IllegalArgumentException("batch pages: " + count + " (expected: 1.." + MAX_BATCH_PAGES + ")");
        }
        putRecordHeader(dst, RecordType.PAGE_BATCH, BATCH_FIXED + count * (8 + PAGE_SIZE) + trailer(verified));
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

    /** Encodes one record (header included) of a stream that is not verified into a new buffer, flipped for reading. */
    public static ByteBuffer encode(StreamRecord record) {
        return encode(record, false);
    }

    /**
     * Encodes one record into a new buffer, flipped for reading; in a {@code verified} stream
     * (not for the stream header) with the CRC32C trailer, and COMPLETE must carry the RAM
     * digest exactly then.
     */
    public static ByteBuffer encode(StreamRecord record, boolean verified) {
        boolean digest = record instanceof StreamRecord.Complete c && c.ramDigest() != null;
        if (digest != (verified && record instanceof StreamRecord.Complete)) {
            throw new IllegalArgumentException("COMPLETE carries the RAM digest exactly in a verified stream (verified: "
                    + verified + ")");
        }
        boolean sealed = verified && !(record instanceof StreamRecord.Header);
        ByteBuffer b = encodePlain(record, sealed ? CHECKSUM_SIZE : 0);
        if (sealed) {
            // The record's length counts the trailer; the CRC covers header and payload before it.
            b.putInt(4, b.getInt(4) + CHECKSUM_SIZE);
            seal(b, 0);
        }
        return b.flip();
    }

    private static ByteBuffer encodePlain(StreamRecord record, int extra) {
        ByteBuffer b = ByteBuffer.allocate(size(record) + extra).order(ORDER);
        switch (record) {
            case StreamRecord.Header h -> putHeader(b, h.version(), h.flags());
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
            case StreamRecord.MultifdSetup m -> {
                if (m.channels() < 1 || m.channels() > MAX_MULTIFD_CHANNELS) {
                    throw new IllegalArgumentException("multifd channels: " + m.channels() + " (expected: 1.."
                            + MAX_MULTIFD_CHANNELS + ")");
                }
                putRecordHeader(b, RecordType.MULTIFD_SETUP, MULTIFD_SETUP_PAYLOAD);
                b.putShort((short) m.channels()).put((byte) m.compression().code()).put((byte) 0).putInt(0)
                        .putLong(m.session());
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
            case StreamRecord.Complete c -> {
                if (c.ramDigest() == null) {
                    putRecordHeader(b, RecordType.COMPLETE, 0);
                } else {
                    putRecordHeader(b, RecordType.COMPLETE, DIGEST_SIZE);
                    b.put(digestBytes(c.ramDigest()));
                }
            }
            case StreamRecord.Start s -> putRecordHeader(b, RecordType.START, 0);
            case StreamRecord.Abort a -> putRecordHeader(b, RecordType.ABORT, 0);
            case StreamRecord.PostcopyListen l -> putRecordHeader(b, RecordType.POSTCOPY_LISTEN, 0);
            case StreamRecord.PostcopyDiscard d -> {
                putRecordHeader(b, RecordType.POSTCOPY_DISCARD, bitmapPayload(d.words()));
                putBitmap(b, d.block(), d.firstPage(), d.words());
            }
            case StreamRecord.PostcopyRun r -> putRecordHeader(b, RecordType.POSTCOPY_RUN, 0);
            case StreamRecord.PostcopyEnd e -> {
                if (e.ramDigest() == null) {
                    putRecordHeader(b, RecordType.POSTCOPY_END, 0);
                } else {
                    putRecordHeader(b, RecordType.POSTCOPY_END, DIGEST_SIZE);
                    b.put(digestBytes(e.ramDigest()));
                }
            }
            case StreamRecord.PostcopyResume r -> putRecordHeader(b, RecordType.POSTCOPY_RESUME, 0);
            case StreamRecord.PostcopyPreempt r -> putRecordHeader(b, RecordType.POSTCOPY_PREEMPT, 0);
        }
        return b;
    }

    private static int bitmapPayload(long[] words) {
        if (words.length < 1 || words.length > MAX_BITMAP_WORDS) {
            throw new IllegalArgumentException("bitmap words: " + words.length + " (expected: 1.." + MAX_BITMAP_WORDS + ")");
        }
        return BITMAP_FIXED + 8 * words.length;
    }

    private static void putBitmap(ByteBuffer b, int block, long firstPage, long[] words) {
        b.putInt(block).putInt(0).putLong(firstPage);
        for (long w : words) {
            b.putLong(w);
        }
    }

    private static ByteBuffer returnHeader(ReturnType type, int payload) {
        return ByteBuffer.allocate(RECORD_HEADER_SIZE + payload).order(ORDER).putShort((short) type.code())
                .putShort((short) 0).putInt(payload);
    }

    private static byte[] digestBytes(String hex) {
        byte[] d;
        try {
            d = java.util.HexFormat.of().parseHex(hex);
        } catch (IllegalArgumentException e) {
            d = new byte[0];
        }
        if (d.length != DIGEST_SIZE) {
            throw new IllegalArgumentException("RAM digest: '" + hex + "' (expected: " + 2 * DIGEST_SIZE + " hex digits)");
        }
        return d;
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
            case ReturnMessage.PageRequest r -> returnHeader(ReturnType.PAGE_REQUEST, PAGE_REQUEST_PAYLOAD)
                    .putInt(r.block()).putInt(0).putLong(r.offset()).flip();
            case ReturnMessage.ReceivedBitmap r -> {
                ByteBuffer b = returnHeader(ReturnType.RECEIVED_BITMAP, bitmapPayload(r.words()));
                putBitmap(b, r.block(), r.firstPage(), r.words());
                yield b.flip();
            }
            case ReturnMessage.ResumeReady r -> returnHeader(ReturnType.RESUME_READY, 0).flip();
            case ReturnMessage.PostcopyDone d -> returnHeader(ReturnType.POSTCOPY_DONE, 0).flip();
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
            case StreamRecord.MultifdSetup m -> RECORD_HEADER_SIZE + MULTIFD_SETUP_PAYLOAD;
            case StreamRecord.EndOfPass e -> RECORD_HEADER_SIZE + 8;
            case StreamRecord.DeviceState d -> RECORD_HEADER_SIZE + d.data().remaining();
            case StreamRecord.Complete c -> RECORD_HEADER_SIZE + (c.ramDigest() == null ? 0 : DIGEST_SIZE);
            case StreamRecord.Start s -> RECORD_HEADER_SIZE;
            case StreamRecord.Abort a -> RECORD_HEADER_SIZE;
            case StreamRecord.PostcopyListen l -> RECORD_HEADER_SIZE;
            case StreamRecord.PostcopyDiscard d -> RECORD_HEADER_SIZE + BITMAP_FIXED + 8 * d.words().length;
            case StreamRecord.PostcopyRun r -> RECORD_HEADER_SIZE;
            case StreamRecord.PostcopyEnd e -> RECORD_HEADER_SIZE + (e.ramDigest() == null ? 0 : DIGEST_SIZE);
            case StreamRecord.PostcopyResume r -> RECORD_HEADER_SIZE;
            case StreamRecord.PostcopyPreempt r -> RECORD_HEADER_SIZE;
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
