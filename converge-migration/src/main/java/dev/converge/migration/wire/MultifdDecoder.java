package dev.converge.migration.wire;

import static dev.converge.migration.wire.WireFormat.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Objects;

/**
 * Incremental decoder of one multifd channel (destination side): a {@link MultifdRecord.Hello}
 * first, then PAGES and SYNC records. As {@link StreamDecoder}: {@link #decode} returns the
 * next whole record or null (position unchanged); every length, count, code, block index and
 * offset is checked against the named maximums and the main stream's layout before anything is
 * consumed; an error throws {@link WireFormatException}. Whether the hello belongs to this
 * migration (session, channel count, a channel id not seen twice) is the caller's check.
 * Not thread-safe: one decoder per channel, used by its one reader thread.
 */
public final class MultifdDecoder {
    private final List<StreamRecord.BlockInfo> layout;
    private final MultifdCompression compression;
    private boolean helloSeen;
    private boolean verified;
    private long lastSync;

    /**
     * @param layout      the RAM layout the main stream declared
     * @param compression what MULTIFD_SETUP declared: every PAGES record must carry it
     */
    public MultifdDecoder(List<StreamRecord.BlockInfo> layout, MultifdCompression compression) {
        this.layout = List.copyOf(layout);
        this.compression = Objects.requireNonNull(compression);
    }

    /**
     * Decodes the next record of {@code in} (read as little-endian, its order restored).
     *
     * @return the record, or null when more bytes are needed (position unchanged)
     * @throws WireFormatException when the bytes break the format
     */
    public MultifdRecord decode(ByteBuffer in) throws WireFormatException {
        ByteOrder saved = in.order();
        in.order(ORDER);
        try {
            return helloSeen ? decodeRecord(in) : decodeHello(in);
        } finally {
            in.order(saved);
        }
    }

    private MultifdRecord decodeHello(ByteBuffer in) throws WireFormatException {
        if (in.remaining() < MULTIFD_HELLO_SIZE) {
            return null;
        }
        int p = in.position();
        int magic = in.getInt(p);
        if (magic != MULTIFD_MAGIC) {
            throw new WireFormatException(String.format("multifd channel magic: 0x%08x (expected: 0x%08x)", magic,
                    MULTIFD_MAGIC));
        }
        int version = Short.toUnsignedInt(in.getShort(p + 4));
        if (version < VERSION_PREVIOUS || version > VERSION_CURRENT) {
            throw new WireFormatException("multifd channel version: " + version + " (expected: " + VERSION_PREVIOUS + ".."
                    + VERSION_CURRENT + ")");
        }
        int flags = Short.toUnsignedInt(in.getShort(p + 6));
        if ((flags & ~KNOWN_FLAGS) != 0) {
            throw new WireFormatException(String.format("multifd channel flags: 0x%04x (expected: bits of 0x%04x)", flags,
                    KNOWN_FLAGS));
        }
        int channel = Short.toUnsignedInt(in.getShort(p + 8));
        int channels = Short.toUnsignedInt(in.getShort(p + 10));
        if (channels < 1 || channels > MAX_MULTIFD_CHANNELS) {
            throw new WireFormatException("multifd channels: " + channels + " (expected: 1.." + MAX_MULTIFD_CHANNELS + ")");
        }
        if (channel >= channels) {
            throw new WireFormatException("multifd channel: " + channel + " (expected: 0.." + (channels - 1) + ")");
        }
        StreamDecoder.checkReserved("multifd channel reserved", in.getInt(p + 12));
        MultifdRecord.Hello h = new MultifdRecord.Hello(version, flags, channel, channels, in.getLong(p + 16));
        in.position(p + MULTIFD_HELLO_SIZE);
        helloSeen = true;
        verified = h.verified();
        return h;
    }

    private MultifdRecord decodeRecord(ByteBuffer in) throws WireFormatException {
        if (in.remaining() < RECORD_HEADER_SIZE) {
            return null;
        }
        int p = in.position();
        int type = Short.toUnsignedInt(in.getShort(p));
        if (type != MULTIFD_PAGES && type != MULTIFD_SYNC) {
            throw new WireFormatException("multifd record type: " + type + " (expected: " + MULTIFD_PAGES + " PAGES or "
                    + MULTIFD_SYNC + " SYNC)");
        }
        String name = type == MULTIFD_PAGES ? "PAGES" : "SYNC";
        StreamDecoder.checkReserved("multifd " + name + " reserved", Short.toUnsignedInt(in.getShort(p + 2)));
        long wireLength = Integer.toUnsignedLong(in.getInt(p + 4));
        long trailer = verified ? CHECKSUM_SIZE : 0;
        long length = wireLength - trailer;
        long min = type == MULTIFD_PAGES ? MULTIFD_PAGES_FIXED + 8 : MULTIFD_SYNC_PAYLOAD;
        long max = type == MULTIFD_PAGES ? MAX_MULTIFD_PAYLOAD : MULTIFD_SYNC_PAYLOAD;
        if (length < min || length > max) {
            throw new WireFormatException("multifd " + name + " length: " + length + " (expected: "
                    + (min == max ? String.valueOf(min) : min + ".." + max) + ")");
        }
        if (in.remaining() < RECORD_HEADER_SIZE + wireLength) {
            return null;
        }
        int body = p + RECORD_HEADER_SIZE;
        int len = (int) length;
        if (verified) {
            Checksums.checkTrailer(in, p, body + len, "multifd " + name);
        }
        MultifdRecord r = type == MULTIFD_PAGES ? decodePages(in, body, len) : decodeSync(in.getLong(body));
        in.position(body + (int) wireLength);
        return r;
    }

    private MultifdRecord decodeSync(long pass) throws WireFormatException {
        if (pass <= lastSync) {
            throw new WireFormatException("multifd SYNC pass: " + pass + " (expected: above " + lastSync + ")");
        }
        lastSync = pass;
        return new MultifdRecord.Sync(pass);
    }

    private MultifdRecord decodePages(ByteBuffer in, int body, int len) throws WireFormatException {
        int block = in.getInt(body);
        int normal = Short.toUnsignedInt(in.getShort(body + 4));
        int zero = Short.toUnsignedInt(in.getShort(body + 6));
        if (normal + zero < 1 || normal + zero > MULTIFD_MAX_PAGES) {
            throw new WireFormatException("multifd pages: " + normal + " + " + zero + " zero (expected: 1.."
                    + MULTIFD_MAX_PAGES + " in all)");
        }
        MultifdCompression c = MultifdCompression.fromCode(Byte.toUnsignedInt(in.get(body + 8)));
        if (c != compression) {
            throw new WireFormatException("multifd compression: " + c.wireName() + " (expected: " + compression.wireName()
                    + ", as MULTIFD_SETUP declared)");
        }
        StreamDecoder.checkReserved("multifd PAGES reserved", Byte.toUnsignedInt(in.get(body + 9)));
        StreamDecoder.checkReserved("multifd PAGES reserved", Short.toUnsignedInt(in.getShort(body + 10)));
        long data = Integer.toUnsignedLong(in.getInt(body + 12));
        boolean fits = c == MultifdCompression.NONE ? data == (long) normal * PAGE_SIZE
                : normal == 0 ? data == 0 : data >= 1 && data <= maxMultifdData(normal);
        if (!fits) {
            throw new WireFormatException("multifd data length: " + data + " for " + normal + " pages (expected: "
                    + (c == MultifdCompression.NONE ? String.valueOf((long) normal * PAGE_SIZE)
                            : normal == 0 ? "0" : "1.." + maxMultifdData(normal)) + ")");
        }
        long expected = MULTIFD_PAGES_FIXED + 8L * (normal + zero) + data;
        if (len != expected) {
            throw new WireFormatException("multifd PAGES length: " + len + " (expected: " + expected + " for " + normal
                    + " + " + zero + " pages and " + data + " bytes of data)");
        }
        long[] normalOffsets = new long[normal];
        long[] zeroOffsets = new long[zero];
        int o = body + MULTIFD_PAGES_FIXED;
        for (int i = 0; i < normal; i++, o += 8) {
            normalOffsets[i] = in.getLong(o);
            StreamDecoder.checkPage(layout, block, normalOffsets[i]);
        }
        for (int i = 0; i < zero; i++, o += 8) {
            zeroOffsets[i] = in.getLong(o);
            StreamDecoder.checkPage(layout, block, zeroOffsets[i]);
        }
        return new MultifdRecord.Pages(block, normalOffsets, zeroOffsets, c, in.slice(o, (int) data).asReadOnlyBuffer());
    }
}
