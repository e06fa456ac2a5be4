package dev.converge.nbd.wire;

import dev.converge.nbd.wire.NbdProtocol.Command;
import java.nio.ByteBuffer;

/**
 * Incremental decoder of transmission requests (server side).
 *
 * <p>States: {@code HEADER} waits until all 28 header bytes are there and consumes nothing before
 * that; a WRITE header then moves to {@code PAYLOAD}, which fills a buffer allocated only after the
 * length was checked against {@link NbdProtocol#MAX_BUFFER_SIZE}. A WRITE above the limit moves to
 * {@code DISCARD} instead, which reads past its payload without keeping it, so the connection stays in
 * step and the server can answer EOVERFLOW. After an exception the decoder is back in {@code HEADER};
 * the stream is then out of step and the caller closes the connection.
 *
 * <p>Not thread-safe: one reader per connection.
 */
public final class RequestDecoder {
    private enum State { HEADER, PAYLOAD, DISCARD }

    /** Written only by the reading thread. */
    private State state = State.HEADER;
    /** The header being completed in PAYLOAD/DISCARD. */
    private Request pending;
    /** Payload being filled in PAYLOAD. */
    private ByteBuffer payload;
    /** Bytes left to skip in DISCARD. */
    private long discard;

    /**
     * Decodes the next request from {@code in}, or returns null when more bytes are needed. A header is
     * never consumed partially.
     */
    public Request decode(ByteBuffer in) throws NbdProtocolException {
        try {
            return switch (state) {
                case HEADER -> header(in);
                case PAYLOAD -> payload(in);
                case DISCARD -> discard(in);
            };
        } catch (NbdProtocolException | RuntimeException e) {
            reset();
            throw e;
        }
    }

    /** Returns to the initial state, dropping any partial payload. */
    public void reset() {
        state = State.HEADER;
        pending = null;
        payload = null;
        discard = 0;
    }

    private Request header(ByteBuffer in) throws NbdProtocolException {
        if (in.remaining() < NbdProtocol.REQUEST_HEADER_SIZE) {
            return null;
        }
        int p = in.position();
        int magic = in.getInt(p);
        if (magic != NbdProtocol.REQUEST_MAGIC) {
            throw new NbdProtocolException.BadMagic("request magic", magic & 0xffffffffL,
                    NbdProtocol.REQUEST_MAGIC);
        }
        int flags = in.getShort(p + 4) & 0xffff;
        int type = in.getShort(p + 6) & 0xffff;
        long cookie = in.getLong(p + 8);
        long offset = in.getLong(p + 16);
        long length = in.getInt(p + 24) & 0xffffffffL;
        in.position(p + NbdProtocol.REQUEST_HEADER_SIZE);
        Request header = new Request(flags, type, cookie, offset, length, null);
        if (type != Command.WRITE.code()) {
            return header;
        }
        pending = header;
        if (length > NbdProtocol.MAX_BUFFER_SIZE) {
            state = State.DISCARD;
            discard = length;
            return discard(in);
        }
        state = State.PAYLOAD;
        payload = ByteBuffer.allocate((int) length);
        return payload(in);
    }

    private Request payload(ByteBuffer in) {
        int n = Math.min(in.remaining(), payload.remaining());
        payload.put(payload.position(), in, in.position(), n);
        payload.position(payload.position() + n);
        in.position(in.position() + n);
        if (payload.hasRemaining()) {
            return null;
        }
        Request r = new Request(pending.flags(), pending.type(), pending.cookie(), pending.offset(),
                pending.length(), payload.flip());
        reset();
        return r;
    }

    private Request discard(ByteBuffer in) {
        int n = (int) Math.min(in.remaining(), discard);
        in.position(in.position() + n);
        discard -= n;
        if (discard > 0) {
            return null;
        }
        Request r = pending;
        reset();
        return r;
    }
}
