package dev.converge.migration.wire;

import static dev.converge.migration.wire.WireFormat.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Incremental decoder of the migration stream (destination side).
 * <p>
 * {@link #decode} returns the next whole record, or null when the input does not hold one
 * yet; then the input's position is unchanged (a partial record is never consumed). Every
 * length, count, index and offset is checked against the named maximums of {@link WireFormat}
 * and the RAM layout declared by the stream before anything is allocated or consumed. On an
 * error the decoder resets to its initial state and throws {@link WireFormatException}.
 * <p>
 * State: HEADER → LAYOUT (after the header) → RECORDS (after RAM_BLOCKS) → FINISHED (after
 * COMPLETE in a version 2 stream); from version 3 COMPLETE leads to DECISION, where exactly one
 * START or ABORT leads to FINISHED. Not thread-safe: one decoder per connection, used by its one reader thread.
 */
public final class StreamDecoder {
    private enum State { HEADER, LAYOUT, RECORDS, DECISION, FINISHED }

    private State state = State.HEADER;
    private int version;
    private boolean verified;
    private List<StreamRecord.BlockInfo> layout = List.of();
    /** Whether the last record was RAM_BLOCKS: MULTIFD_SETUP may come only right after it. */
    private boolean justLaidOut;

    /** The version from the stream header, 0 before it. */
    public int version() {
        return version;
    }

    /** Whether the header declared a verified stream (false before the header). */
    public boolean verified() {
        return verified;
    }

    /** The RAM layout declared by the stream, empty before RAM_BLOCKS. */
    public List<StreamRecord.BlockInfo> layout() {
        return layout;
    }

    /** Whether the stream ended: COMPLETE (version 2) or START / ABORT (version 3) was decoded. */
    public boolean isFinished() {
        return state == State.FINISHED;
    }

    /** Back to the initial state, for a new stream. */
    public void reset() {
        state = State.HEADER;
        version = 0;
        verified = false;
        layout = List.of();
        justLaidOut = false;
    }

    /**
     * Decodes the next record of {@code in} (any byte order; read as little-endian, restored).
     *
     * @return the record, or null when more bytes are needed (position unchanged)
     * @throws WireFormatException when the bytes break the format; the decoder has reset
     */
    public StreamRecord decode(ByteBuffer in) throws WireFormatException {
        ByteOrder saved = in.order();
        in.order(ORDER);
        try {
            return decodeLE(in);
        } catch (WireFormatException e) {
            reset();
            throw e;
        } finally {
            in.order(saved);
        }
    }

    private StreamRecord decodeLE(ByteBuffer in) throws WireFormatException {
        int p = in.position();
        if (state == State.HEADER) {
            if (in.remaining() < STREAM_HEADER_SIZE) {
                return null;
            }
            int magic = in.getInt(p);
            if (magic != MAGIC) {
                throw new WireFormatException(String.format("magic: 0x%08x (expected: 0x%08x)", magic, MAGIC));
            }
            int v = Short.toUnsignedInt(in.getShort(p + 4));
            if (v < VERSION_PREVIOUS || v > VERSION_CURRENT) {
                throw new WireFormatException("version: " + v + " (expected: " + VERSION_PREVIOUS + ".." + VERSION_CURRENT + ")");
            }
            int flags = Short.toUnsignedInt(in.getShort(p + 6));
            if (v < VERSION_FLAGS) {
                checkReserved("header reserved", flags);
            } else if ((flags & ~KNOWN_FLAGS) != 0) {
                throw new WireFormatException(String.format("header flags: 0x%04x (expected: bits of 0x%04x)", flags, KNOWN_FLAGS));
            }
            in.position(p + STREAM_HEADER_SIZE);
            version = v;
            StreamRecord.Header header = new StreamRecord.Header(v, flags);
            verified = header.verified();
            state = State.LAYOUT;
            return header;
        }
        if (!in.hasRemaining()) {
            return null;
        }
        if (state == State.FINISHED) {
            throw new WireFormatException("bytes after the end of the stream: " + in.remaining() + " (expected: 0)");
        }
        if (in.remaining() < RECORD_HEADER_SIZE) {
            return null;
        }
        RecordType type = RecordType.fromCode(Short.toUnsignedInt(in.getShort(p)));
        checkReserved(type + " reserved", Short.toUnsignedInt(in.getShort(p + 2)));
        long wireLength = Integer.toUnsignedLong(in.getInt(p + 4));
        if (verified && wireLength < CHECKSUM_SIZE) {
            throw new WireFormatException(type + " length: " + wireLength + " (expected: at least " + CHECKSUM_SIZE
                    + " in a verified stream, for the checksum)");
        }
        // The payload proper; a verified record's length also counts its trailer.
        long length = verified ? wireLength - CHECKSUM_SIZE : wireLength;
        checkLength(type, length, verified);
        if (state == State.LAYOUT && type != RecordType.RAM_BLOCKS) {
            throw new WireFormatException("record " + type + " before RAM_BLOCKS (expected: RAM_BLOCKS first)");
        }
        if (state == State.RECORDS && type == RecordType.RAM_BLOCKS) {
            throw new WireFormatException("record RAM_BLOCKS: a second layout (expected: once per stream)");
        }
        if (type == RecordType.MULTIFD_SETUP && !justLaidOut) {
            throw new WireFormatException("record MULTIFD_SETUP not right after RAM_BLOCKS (expected: at most once, "
                    + "right after RAM_BLOCKS)");
        }
        boolean decision = type == RecordType.START || type == RecordType.ABORT;
        if (state == State.DECISION && !decision) {
            throw new WireFormatException("record " + type + " after COMPLETE (expected: START or ABORT)");
        }
        if (state != State.DECISION && decision) {
            throw new WireFormatException("record " + type + " before COMPLETE (expected: only after COMPLETE)");
        }
        if (in.remaining() < RECORD_HEADER_SIZE + wireLength) {
            return null;
        }
        int body = p + RECORD_HEADER_SIZE;
        int len = (int) length;
        int[] pageCrcs = null;
        if (verified) {
            int pages = type == RecordType.PAGE_BATCH ? batchPages(len) : -1;
            if (pages > 0) {
                pageCrcs = Checksums.checkBatchTrailer(in, p, body + BATCH_FIXED + 8 * pages, pages, type.toString());
            } else {
                Checksums.checkTrailer(in, p, body + len, type.toString());
            }
        }
        StreamRecord record = switch (type) {
            case INVALID -> throw new AssertionError("fromCode never returns INVALID");
            case RAM_BLOCKS -> decodeRamBlocks(in, body, len);
            case PAGE -> {
                int block = in.getInt(body);
                long offset = in.getLong(body + 4);
                checkPage(block, offset);
                yield new StreamRecord.Page(block, offset, in.slice(body + 12, PAGE_SIZE).asReadOnlyBuffer());
            }
            case ZERO_PAGE -> {
                int block = in.getInt(body);
                long offset = in.getLong(body + 4);
                checkPage(block, offset);
                yield new StreamRecord.ZeroPage(block, offset);
            }
            case PAGE_BATCH -> decodeBatch(in, body, len, pageCrcs);
            case MULTIFD_SETUP -> decodeMultifdSetup(in, body);
            case END_OF_PASS -> new StreamRecord.EndOfPass(in.getLong(body));
            case DEVICE_STATE -> new StreamRecord.DeviceState(in.slice(body, len).asReadOnlyBuffer());
            case COMPLETE -> new StreamRecord.Complete(len == 0 ? null
                    : java.util.HexFormat.of().formatHex(bytes(in, body, len)));
            case START -> new StreamRecord.Start();
            case ABORT -> new StreamRecord.Abort();
            case POSTCOPY_LISTEN -> new StreamRecord.PostcopyListen();
            case POSTCOPY_DISCARD -> {
                int block = in.getInt(body);
                checkReserved("POSTCOPY_DISCARD reserved", in.getInt(body + 4));
                long first = in.getLong(body + 8);
                long[] words = bitmapWords(in, body, len);
                checkBitmapRange(block, first, words.length);
                yield new StreamRecord.PostcopyDiscard(block, first, words);
            }
            case POSTCOPY_RUN -> new StreamRecord.PostcopyRun();
            case POSTCOPY_END -> new StreamRecord.PostcopyEnd(len == 0 ? null
                    : java.util.HexFormat.of().formatHex(bytes(in, body, len)));
            case POSTCOPY_RESUME -> new StreamRecord.PostcopyResume();
            case POSTCOPY_PREEMPT -> new StreamRecord.PostcopyPreempt();
        };
        in.position(body + (int) wireLength);
        justLaidOut = type == RecordType.RAM_BLOCKS;
        if (type == RecordType.RAM_BLOCKS) {
            layout = ((StreamRecord.RamBlocks) record).blocks();
            state = State.RECORDS;
        } else if (type == RecordType.COMPLETE) {
            state = version >= VERSION_DECISION ? State.DECISION : State.FINISHED;
        } else if (decision) {
            state = State.FINISHED;
        }
        return record;
    }

    private static byte[] bytes(ByteBuffer in, int from, int len) {
        byte[] b = new byte[len];
        in.get(from, b);
        return b;
    }

    private static void checkLength(RecordType type, long length, boolean verified) throws WireFormatException {
        switch (type) {
            case RAM_BLOCKS -> checkRange(type, length, 4, MAX_RAM_BLOCKS_PAYLOAD);
            case PAGE -> checkRange(type, length, PAGE_PAYLOAD, PAGE_PAYLOAD);
            case ZERO_PAGE -> checkRange(type, length, ZERO_PAGE_PAYLOAD, ZERO_PAGE_PAYLOAD);
            case PAGE_BATCH -> checkRange(type, length, BATCH_FIXED + 8 + PAGE_SIZE, MAX_BATCH_PAYLOAD);
            case END_OF_PASS -> checkRange(type, length, 8, 8);
            case MULTIFD_SETUP -> checkRange(type, length, MULTIFD_SETUP_PAYLOAD, MULTIFD_SETUP_PAYLOAD);
            case DEVICE_STATE -> checkRange(type, length, 0, MAX_DEVICE_STATE);
            case COMPLETE -> checkRange(type, length, verified ? DIGEST_SIZE : 0, verified ? DIGEST_SIZE : 0);
            case START, ABORT, POSTCOPY_LISTEN, POSTCOPY_RUN, POSTCOPY_RESUME, POSTCOPY_PREEMPT -> checkRange(type, length, 0, 0);
            case POSTCOPY_DISCARD -> {
                checkRange(type, length, BITMAP_FIXED + 8, BITMAP_FIXED + 8L * MAX_BITMAP_WORDS);
                if ((length - BITMAP_FIXED) % 8 != 0) {
                    throw new WireFormatException(type + " length: " + length + " (expected: " + BITMAP_FIXED
                            + " + a multiple of 8)");
                }
            }
            case POSTCOPY_END -> checkRange(type, length, verified ? DIGEST_SIZE : 0, verified ? DIGEST_SIZE : 0);
            case INVALID -> throw new AssertionError("fromCode never returns INVALID");
        }
    }

    private static void checkRange(RecordType type, long length, long min, long max) throws WireFormatException {
        if (length < min || length > max) {
            throw new WireFormatException(type + " length: " + length + " (expected: "
                    + (min == max ? String.valueOf(min) : min + ".." + max) + ")");
        }
    }

    static void checkReserved(String field, int value) throws WireFormatException {
        if (value != 0) {
            throw new WireFormatException(field + ": " + value + " (expected: 0)");
        }
    }

    /** The bitmap words of a POSTCOPY_DISCARD or RECEIVED_BITMAP payload at {@code body} (length checked). */
    static long[] bitmapWords(ByteBuffer in, int body, int len) {
        long[] words = new long[(len - BITMAP_FIXED) / 8];
        for (int i = 0; i < words.length; i++) {
            words[i] = in.getLong(body + BITMAP_FIXED + 8 * i);
        }
        return words;
    }

    /** A bitmap of {@code count} words from {@code firstPage} must lie in block {@code block} of the layout. */
    private void checkBitmapRange(int block, long firstPage, int count) throws WireFormatException {
        if (block < 0 || block >= layout.size()) {
            throw new WireFormatException("block index: " + Integer.toUnsignedString(block)
                    + " (expected: 0.." + (layout.size() - 1) + ")");
        }
        long pages = layout.get(block).size() / PAGE_SIZE;
        if (firstPage < 0 || firstPage % 64 != 0 || firstPage >= pages || (pages - firstPage + 63) / 64 < count) {
            throw new WireFormatException("bitmap of block '" + layout.get(block).name() + "': first page " + firstPage
                    + ", " + count + " words (expected: a multiple of 64 below " + pages + ", words within the block)");
        }
    }

    private void checkPage(int block, long offset) throws WireFormatException {
        checkPage(layout, block, offset);
    }

    /** Checks a block index and page offset against a declared layout (also the multifd channels' check). */
    static void checkPage(List<StreamRecord.BlockInfo> layout, int block, long offset) throws WireFormatException {
        if (block < 0 || block >= layout.size()) {
            throw new WireFormatException("block index: " + Integer.toUnsignedString(block)
                    + " (expected: 0.." + (layout.size() - 1) + ")");
        }
        long size = layout.get(block).size();
        if (offset < 0 || offset % PAGE_SIZE != 0 || offset > size - PAGE_SIZE) {
            throw new WireFormatException("page offset in block '" + layout.get(block).name() + "': " + offset
                    + " (expected: a multiple of " + PAGE_SIZE + " in 0.." + (size - PAGE_SIZE) + ")");
        }
    }

    private static StreamRecord decodeMultifdSetup(ByteBuffer in, int body) throws WireFormatException {
        int channels = Short.toUnsignedInt(in.getShort(body));
        if (channels < 1 || channels > MAX_MULTIFD_CHANNELS) {
            throw new WireFormatException("multifd channels: " + channels + " (expected: 1.." + MAX_MULTIFD_CHANNELS + ")");
        }
        MultifdCompression compression = MultifdCompression.fromCode(Byte.toUnsignedInt(in.get(body + 2)));
        checkReserved("MULTIFD_SETUP reserved", Byte.toUnsignedInt(in.get(body + 3)));
        checkReserved("MULTIFD_SETUP reserved", in.getInt(body + 4));
        return new StreamRecord.MultifdSetup(channels, compression, in.getLong(body + 8));
    }

    /**
     * The pages a PAGE_BATCH payload of {@code len} bytes holds, or -1 when the length fits no batch
     * (then the plain trailer check runs and {@link #decodeBatch} names the error).
     */
    private static int batchPages(int len) {
        int rest = len - BATCH_FIXED;
        if (rest <= 0 || rest % (8 + PAGE_SIZE) != 0 || rest / (8 + PAGE_SIZE) > MAX_BATCH_PAGES) {
            return -1;
        }
        return rest / (8 + PAGE_SIZE);
    }

    private StreamRecord decodeBatch(ByteBuffer in, int body, int len, int[] pageCrcs) throws WireFormatException {
        int block = in.getInt(body);
        long count = Integer.toUnsignedLong(in.getInt(body + 4));
        if (count < 1 || count > MAX_BATCH_PAGES) {
            throw new WireFormatException("batch pages: " + count + " (expected: 1.." + MAX_BATCH_PAGES + ")");
        }
        long expected = BATCH_FIXED + count * (8 + PAGE_SIZE);
        if (len != expected) {
            throw new WireFormatException("PAGE_BATCH length: " + len + " (expected: " + expected + " for " + count + " pages)");
        }
        long[] offsets = new long[(int) count];
        for (int i = 0; i < count; i++) {
            offsets[i] = in.getLong(body + BATCH_FIXED + 8 * i);
            checkPage(block, offsets[i]);
        }
        int data = body + BATCH_FIXED + 8 * (int) count;
        return new StreamRecord.PageBatch(block, offsets, in.slice(data, (int) count * PAGE_SIZE).asReadOnlyBuffer(), pageCrcs);
    }

    private static StreamRecord decodeRamBlocks(ByteBuffer in, int body, int len) throws WireFormatException {
        int count = Short.toUnsignedInt(in.getShort(body));
        checkReserved("RAM_BLOCKS reserved", Short.toUnsignedInt(in.getShort(body + 2)));
        if (count < 1 || count > MAX_RAM_BLOCKS) {
            throw new WireFormatException("RAM block count: " + count + " (expected: 1.." + MAX_RAM_BLOCKS + ")");
        }
        int end = body + len;
        int p = body + 4;
        List<StreamRecord.BlockInfo> blocks = new ArrayList<>(count);
        Set<String> names = new HashSet<>();
        for (int i = 0; i < count; i++) {
            if (end - p < 2) {
                throw new WireFormatException("RAM_BLOCKS length: " + len + " (expected: room for " + count + " blocks)");
            }
            int nameLen = Short.toUnsignedInt(in.getShort(p));
            if (nameLen < 1 || nameLen > MAX_BLOCK_NAME) {
                throw new WireFormatException("RAM block " + i + " name length: " + nameLen + " (expected: 1.." + MAX_BLOCK_NAME + ")");
            }
            if (end - p < 2 + nameLen + 8) {
                throw new WireFormatException("RAM_BLOCKS length: " + len + " (expected: room for " + count + " blocks)");
            }
            String name;
            try {
                name = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(in.slice(p + 2, nameLen)).toString();
            } catch (CharacterCodingException e) {
                throw new WireFormatException("RAM block " + i + " name: not UTF-8 (expected: UTF-8)");
            }
            long size = in.getLong(p + 2 + nameLen);
            if (size < PAGE_SIZE || size > MAX_BLOCK_SIZE || size % PAGE_SIZE != 0) {
                throw new WireFormatException("RAM block '" + name + "' size: " + size + " (expected: a multiple of "
                        + PAGE_SIZE + " in " + PAGE_SIZE + ".." + MAX_BLOCK_SIZE + ")");
            }
            if (!names.add(name)) {
                throw new WireFormatException("RAM block name: '" + name + "' twice (expected: unique names)");
            }
            blocks.add(new StreamRecord.BlockInfo(name, size));
            p += 2 + nameLen + 8;
        }
        if (p != end) {
            throw new WireFormatException("RAM_BLOCKS length: " + len + " (expected: " + (p - body) + ")");
        }
        return new StreamRecord.RamBlocks(blocks);
    }
}
