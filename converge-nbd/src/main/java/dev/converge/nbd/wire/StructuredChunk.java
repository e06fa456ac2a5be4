package dev.converge.nbd.wire;

import dev.converge.nbd.wire.NbdProtocol.Errno;
import dev.converge.nbd.wire.NbdProtocol.ReplyType;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * One structured reply chunk: magic, u16 flags, u16 type, u64 cookie, u32 length (20 bytes), payload.
 *
 * @param flags   {@link NbdProtocol#REPLY_FLAG_DONE} on the last chunk of a reply
 * @param type    the chunk type
 * @param cookie  the request's cookie
 * @param payload the chunk payload (position..limit)
 */
public record StructuredChunk(int flags, ReplyType type, long cookie, ByteBuffer payload) implements Reply {
    /** Largest chunk payload we accept as a client: a full data chunk plus its offset. */
    public static final int MAX_PAYLOAD = NbdProtocol.MAX_BUFFER_SIZE + 8;
    /** Longest error message we send (the u16 length allows more; QEMU keeps it short too). */
    public static final int MAX_ERROR_MESSAGE = NbdProtocol.MAX_STRING_SIZE;

    public boolean done() {
        return (flags & NbdProtocol.REPLY_FLAG_DONE) != 0;
    }

    private static int done(boolean done) {
        return done ? NbdProtocol.REPLY_FLAG_DONE : 0;
    }

    /** The only chunk of a successful reply without data. */
    public static StructuredChunk none(long cookie) {
        return new StructuredChunk(NbdProtocol.REPLY_FLAG_DONE, ReplyType.NONE, cookie, Wire.allocate(0));
    }

    /** OFFSET_DATA: the offset, then the data (kept as a separate buffer when encoding). */
    public static StructuredChunk data(long cookie, long offset, ByteBuffer data, boolean done) {
        ByteBuffer p = Wire.allocate(8 + data.remaining()).putLong(offset).put(data.duplicate()).flip();
        return new StructuredChunk(done(done), ReplyType.OFFSET_DATA, cookie, p);
    }

    /** OFFSET_HOLE: a range that reads as zeroes. */
    public static StructuredChunk hole(long cookie, long offset, int length, boolean done) {
        return new StructuredChunk(done(done), ReplyType.OFFSET_HOLE, cookie,
                Wire.allocate(12).putLong(offset).putInt(length).flip());
    }

    /** BLOCK_STATUS: context id and descriptors. */
    public static StructuredChunk blockStatus(long cookie, int contextId, List<Extent> extents, boolean done) {
        ByteBuffer p = Wire.allocate(4 + 8 * extents.size()).putInt(contextId);
        extents.forEach(e -> p.putInt((int) e.length()).putInt(e.flags()));
        return new StructuredChunk(done(done), ReplyType.BLOCK_STATUS, cookie, p.flip());
    }

    /**
     * BLOCK_STATUS_EXT (extended headers only): context id, descriptor count, and 64-bit lengths and
     * statuses.
     */
    public static StructuredChunk blockStatusExt(long cookie, int contextId, List<Extent> extents, boolean done) {
        ByteBuffer p = Wire.allocate(8 + 16 * extents.size()).putInt(contextId).putInt(extents.size());
        extents.forEach(e -> p.putLong(e.length()).putLong(e.flags() & 0xffffffffL));
        return new StructuredChunk(done(done), ReplyType.BLOCK_STATUS_EXT, cookie, p.flip());
    }

    /** ERROR: errno and a message for humans. */
    public static StructuredChunk error(long cookie, Errno errno, String message, boolean done) {
        byte[] m = message(message);
        ByteBuffer p = Wire.allocate(6 + m.length).putInt(errno.wire()).putShort((short) m.length).put(m);
        return new StructuredChunk(done(done), ReplyType.ERROR, cookie, p.flip());
    }

    /** ERROR_OFFSET: errno, message and the offset that failed. */
    public static StructuredChunk errorOffset(long cookie, Errno errno, String message, long offset, boolean done) {
        byte[] m = message(message);
        ByteBuffer p = Wire.allocate(14 + m.length).putInt(errno.wire()).putShort((short) m.length).put(m)
                .putLong(offset);
        return new StructuredChunk(done(done), ReplyType.ERROR_OFFSET, cookie, p.flip());
    }

    private static byte[] message(String message) {
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        if (m.length > MAX_ERROR_MESSAGE) {
            m = java.util.Arrays.copyOf(m, MAX_ERROR_MESSAGE);
        }
        return m;
    }

    /** Header for a payload of {@code payloadLength} bytes. */
    public static ByteBuffer header(int flags, ReplyType type, long cookie, int payloadLength) {
        return Wire.allocate(NbdProtocol.STRUCTURED_REPLY_HEADER_SIZE).putInt(NbdProtocol.STRUCTURED_REPLY_MAGIC)
                .putShort((short) flags).putShort((short) type.code()).putLong(cookie).putInt(payloadLength).flip();
    }

    /**
     * Extended reply chunk header (extended headers only): as {@link #header}, plus the offset of the
     * request it answers, with a 64-bit payload length.
     */
    public static ByteBuffer extendedHeader(int flags, ReplyType type, long cookie, long requestOffset,
                                            long payloadLength) {
        return Wire.allocate(NbdProtocol.EXTENDED_HEADER_SIZE).putInt(NbdProtocol.EXTENDED_REPLY_MAGIC)
                .putShort((short) flags).putShort((short) type.code()).putLong(cookie).putLong(requestOffset)
                .putLong(payloadLength).flip();
    }

    /** Header and payload as one buffer. */
    public ByteBuffer encode() {
        ByteBuffer h = header(flags, type, cookie, payload.remaining());
        return Wire.allocate(h.remaining() + payload.remaining()).put(h).put(payload.duplicate()).flip();
    }

    // ---- accessors of typed payloads (client side) --------------------------------------------

    /** Offset of an OFFSET_DATA, OFFSET_HOLE or ERROR_OFFSET chunk. */
    public long offset() throws NbdProtocolException {
        ByteBuffer p = payload.duplicate();
        return switch (type) {
            case OFFSET_DATA, OFFSET_HOLE -> Wire.u64(p, "chunk offset");
            case ERROR_OFFSET -> {
                p.position(p.position() + 6 + (p.getShort(p.position() + 4) & 0xffff));
                yield Wire.u64(p, "error offset");
            }
            default -> throw new NbdProtocolException.Malformed("chunk type " + type + " has no offset");
        };
    }

    /** Data of an OFFSET_DATA chunk. */
    public ByteBuffer data() {
        return payload.duplicate().position(payload.position() + 8).slice();
    }

    /** Length of an OFFSET_HOLE chunk. */
    public long holeLength() throws NbdProtocolException {
        ByteBuffer p = payload.duplicate();
        p.position(p.position() + 8);
        return Wire.u32(p, "hole length");
    }

    /** Errno of an error chunk. */
    public int errno() {
        return payload.getInt(payload.position());
    }

    /** Message of an error chunk. */
    public String errorMessage() throws NbdProtocolException {
        ByteBuffer p = payload.duplicate();
        p.position(p.position() + 4);
        int len = Wire.u16(p, "error message length");
        Wire.need(p, len, "error message");
        byte[] m = new byte[len];
        p.get(m);
        return new String(m, StandardCharsets.UTF_8);
    }

    /** Context id of a BLOCK_STATUS chunk. */
    public int contextId() {
        return payload.getInt(payload.position());
    }

    /** Descriptors of a BLOCK_STATUS chunk. */
    public List<Extent> extents() throws NbdProtocolException {
        ByteBuffer p = payload.duplicate();
        p.position(p.position() + 4);
        if (p.remaining() % 8 != 0) {
            throw new NbdProtocolException.Malformed("block status descriptors: " + p.remaining()
                    + " bytes (expected: a multiple of 8)");
        }
        List<Extent> out = new ArrayList<>(p.remaining() / 8);
        while (p.hasRemaining()) {
            long len = p.getInt() & 0xffffffffL;
            int flags = p.getInt();
            if (len == 0) {
                throw new NbdProtocolException.Malformed("block status descriptor length: 0 (expected: > 0)");
            }
            out.add(new Extent(len, flags));
        }
        return out;
    }

    /** Checks the payload has the minimum length its type requires. */
    void validate() throws NbdProtocolException {
        int min = switch (type) {
            case NONE -> 0;
            case OFFSET_DATA -> 9;
            case OFFSET_HOLE -> 12;
            case BLOCK_STATUS -> 12;
            case BLOCK_STATUS_EXT -> 8;
            case ERROR -> 6;
            case ERROR_OFFSET -> 14;
        };
        int len = payload.remaining();
        if (len < min || (type == ReplyType.NONE && len != 0) || (type == ReplyType.OFFSET_HOLE && len != 12)) {
            throw new NbdProtocolException.Malformed(type + " chunk length: " + len + " (expected: "
                    + (type == ReplyType.NONE || type == ReplyType.OFFSET_HOLE ? "" : ">= ") + min + ")");
        }
        if (type == ReplyType.NONE && !done()) {
            throw new NbdProtocolException.Malformed("NONE chunk without DONE flag");
        }
    }
}
