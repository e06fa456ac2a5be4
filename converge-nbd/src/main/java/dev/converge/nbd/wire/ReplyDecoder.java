package dev.converge.nbd.wire;

import dev.converge.nbd.wire.NbdProtocol.ReplyType;
import java.nio.ByteBuffer;
import java.util.function.LongUnaryOperator;

/**
 * Incremental decoder of transmission replies (client side): simple replies and structured chunks.
 * A frame (header plus payload) is consumed only when it is complete; lengths are checked before
 * anything is allocated. Stateless between frames, so an exception leaves nothing to reset.
 */
public final class ReplyDecoder {
    /** Cookie → number of data bytes following a successful simple reply (the READ length, else 0). */
    private final LongUnaryOperator simpleDataLength;
    /** Payloads are views of the input buffer (see {@link #viewing}) rather than copies. */
    private final boolean views;

    /** A decoder whose replies own copies of their payloads. */
    public ReplyDecoder(LongUnaryOperator simpleDataLength) {
        this(simpleDataLength, false);
    }

    private ReplyDecoder(LongUnaryOperator simpleDataLength, boolean views) {
        this.simpleDataLength = simpleDataLength;
        this.views = views;
    }

    /**
     * A decoder whose replies' payloads (READ data included) are read-only views of the input buffer,
     * not copies: valid only until the caller changes that buffer (compacts or reads into it). For a
     * reader that copies READ data straight to its destination: one copy less, and no allocation per reply.
     *
     * @param simpleDataLength cookie → data bytes after a successful simple reply (READ length, else 0)
     */
    public static ReplyDecoder viewing(LongUnaryOperator simpleDataLength) {
        return new ReplyDecoder(simpleDataLength, true);
    }

    /** {@code len} bytes of {@code in} from {@code at}: a view or a copy. */
    private ByteBuffer payload(ByteBuffer in, int at, int len) {
        if (views) {
            return in.asReadOnlyBuffer().position(at).limit(at + len).slice().order(java.nio.ByteOrder.BIG_ENDIAN);
        }
        ByteBuffer b = Wire.allocate(len);
        b.put(0, in, at, len);
        return b;
    }

    /** Decodes the next reply, or returns null without consuming anything while it is incomplete. */
    public Reply decode(ByteBuffer in) throws NbdProtocolException {
        if (in.remaining() < 4) {
            return null;
        }
        int p = in.position();
        int magic = in.getInt(p);
        if (magic == NbdProtocol.SIMPLE_REPLY_MAGIC) {
            if (in.remaining() < NbdProtocol.SIMPLE_REPLY_HEADER_SIZE) {
                return null;
            }
            int error = in.getInt(p + 4);
            long cookie = in.getLong(p + 8);
            long len = error == 0 ? simpleDataLength.applyAsLong(cookie) : 0;
            if (len > NbdProtocol.MAX_BUFFER_SIZE) {
                throw new NbdProtocolException.LimitExceeded("simple reply data length", len,
                        NbdProtocol.MAX_BUFFER_SIZE);
            }
            if (in.remaining() < NbdProtocol.SIMPLE_REPLY_HEADER_SIZE + len) {
                return null;
            }
            ByteBuffer data = null;
            if (len > 0) {
                data = payload(in, p + NbdProtocol.SIMPLE_REPLY_HEADER_SIZE, (int) len);
            }
            in.position(p + NbdProtocol.SIMPLE_REPLY_HEADER_SIZE + (int) len);
            return new SimpleReply(error, cookie, data);
        }
        if (magic != NbdProtocol.STRUCTURED_REPLY_MAGIC) {
            throw new NbdProtocolException.BadMagic("reply magic", magic & 0xffffffffL,
                    NbdProtocol.STRUCTURED_REPLY_MAGIC);
        }
        if (in.remaining() < NbdProtocol.STRUCTURED_REPLY_HEADER_SIZE) {
            return null;
        }
        int flags = in.getShort(p + 4) & 0xffff;
        ReplyType type = ReplyType.fromCode(in.getShort(p + 6) & 0xffff);
        long cookie = in.getLong(p + 8);
        long len = in.getInt(p + 16) & 0xffffffffL;
        if (len > StructuredChunk.MAX_PAYLOAD) {
            throw new NbdProtocolException.LimitExceeded("structured reply length", len, StructuredChunk.MAX_PAYLOAD);
        }
        if ((flags & ~NbdProtocol.REPLY_FLAG_DONE) != 0) {
            throw new NbdProtocolException.UnknownCode("structured reply flags", flags & ~NbdProtocol.REPLY_FLAG_DONE);
        }
        if (in.remaining() < NbdProtocol.STRUCTURED_REPLY_HEADER_SIZE + len) {
            return null;
        }
        ByteBuffer payload = payload(in, p + NbdProtocol.STRUCTURED_REPLY_HEADER_SIZE, (int) len);
        StructuredChunk chunk = new StructuredChunk(flags, type, cookie, payload);
        chunk.validate();
        in.position(p + NbdProtocol.STRUCTURED_REPLY_HEADER_SIZE + (int) len);
        return chunk;
    }
}
