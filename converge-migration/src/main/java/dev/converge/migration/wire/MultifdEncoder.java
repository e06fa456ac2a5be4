package dev.converge.migration.wire;

import static dev.converge.migration.wire.WireFormat.*;

import java.nio.ByteBuffer;

/**
 * Encodes a multifd channel: pure functions that write into a buffer the caller owns (the
 * {@code put...} functions, for the sender's hot path, whose page data follows in the same
 * gathering write) or return a new one ({@link #encode}). Little-endian, checked against the
 * maximums {@link MultifdDecoder} applies. In a verified migration every record after the hello
 * ends with a CRC32C trailer, as on the main stream.
 */
public final class MultifdEncoder {
    private MultifdEncoder() {
    }

    /** Writes a channel's hello. */
    public static void putHello(ByteBuffer dst, MultifdRecord.Hello h) {
        if (h.channels() < 1 || h.channels() > MAX_MULTIFD_CHANNELS || h.channel() < 0 || h.channel() >= h.channels()) {
            throw new IllegalArgumentException("multifd channel " + h.channel() + " of " + h.channels()
                    + " (expected: 0..channels-1, channels 1.." + MAX_MULTIFD_CHANNELS + ")");
        }
        dst.order(ORDER).putInt(MULTIFD_MAGIC).putShort((short) h.version()).putShort((short) h.flags())
                .putShort((short) h.channel()).putShort((short) h.channels()).putInt(0).putLong(h.session());
    }

    /**
     * Writes the record header and fixed part of a PAGES record whose {@code dataLength} bytes of
     * data the caller writes next (then, when {@code verified}, the CRC32C of this head and the data).
     *
     * @param normal     offsets of the pages with data, the first {@code normalCount}
     * @param zero       offsets of the zero pages, the first {@code zeroCount}
     */
    public static void putPagesHead(ByteBuffer dst, int block, long[] normal, int normalCount, long[] zero, int zeroCount,
            MultifdCompression compression, int dataLength, boolean verified) {
        int pages = normalCount + zeroCount;
        if (normalCount < 0 || zeroCount < 0 || pages < 1 || pages > MULTIFD_MAX_PAGES) {
            throw new IllegalArgumentException("multifd pages: " + normalCount + " + " + zeroCount + " (expected: 1.."
                    + MULTIFD_MAX_PAGES + ")");
        }
        long expected = compression == MultifdCompression.NONE ? (long) normalCount * PAGE_SIZE : dataLength;
        if (dataLength != expected || dataLength > maxMultifdData(normalCount) || (normalCount == 0 && dataLength != 0)) {
            throw new IllegalArgumentException("multifd data: " + dataLength + " bytes for " + normalCount + " pages ("
                    + compression.wireName() + ")");
        }
        int length = MULTIFD_PAGES_FIXED + 8 * pages + dataLength + (verified ? CHECKSUM_SIZE : 0);
        dst.order(ORDER).putShort((short) MULTIFD_PAGES).putShort((short) 0).putInt(length);
        dst.putInt(block).putShort((short) normalCount).putShort((short) zeroCount).put((byte) compression.code())
                .put((byte) 0).putShort((short) 0).putInt(dataLength);
        for (int i = 0; i < normalCount; i++) {
            dst.putLong(normal[i]);
        }
        for (int i = 0; i < zeroCount; i++) {
            dst.putLong(zero[i]);
        }
    }

    /** Writes a whole SYNC record, sealed when {@code verified}. */
    public static void putSync(ByteBuffer dst, long pass, boolean verified) {
        int start = dst.position();
        dst.order(ORDER).putShort((short) MULTIFD_SYNC).putShort((short) 0)
                .putInt(MULTIFD_SYNC_PAYLOAD + (verified ? CHECKSUM_SIZE : 0)).putLong(pass);
        if (verified) {
            StreamEncoder.seal(dst, start);
        }
    }

    /** Encodes one record into a new buffer, flipped for reading; sealed when {@code verified} (never the hello). */
    public static ByteBuffer encode(MultifdRecord record, boolean verified) {
        return switch (record) {
            case MultifdRecord.Hello h -> {
                ByteBuffer b = ByteBuffer.allocate(MULTIFD_HELLO_SIZE).order(ORDER);
                putHello(b, h);
                yield b.flip();
            }
            case MultifdRecord.Sync s -> {
                ByteBuffer b = ByteBuffer.allocate(RECORD_HEADER_SIZE + MULTIFD_SYNC_PAYLOAD + CHECKSUM_SIZE).order(ORDER);
                putSync(b, s.pass(), verified);
                yield b.flip();
            }
            case MultifdRecord.Pages p -> {
                int data = p.data().remaining();
                ByteBuffer b = ByteBuffer.allocate(RECORD_HEADER_SIZE + MULTIFD_PAGES_FIXED
                        + 8 * (p.normal().length + p.zero().length) + data + CHECKSUM_SIZE).order(ORDER);
                putPagesHead(b, p.block(), p.normal(), p.normal().length, p.zero(), p.zero().length, p.compression(), data,
                        verified);
                b.put(p.data().duplicate());
                if (verified) {
                    StreamEncoder.seal(b, 0);
                }
                yield b.flip();
            }
        };
    }
}
