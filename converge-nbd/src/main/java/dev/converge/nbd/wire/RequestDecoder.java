package dev.converge.nbd.wire;

import dev.converge.nbd.wire.NbdProtocol.Command;
import java.nio.ByteBuffer;
import java.util.function.IntFunction;

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
 * <p>The payload buffer comes from an allocator the caller chooses (a server hands in pooled direct
 * buffers, so the payload goes from the socket to the disk without a heap copy), and while the
 * decoder waits for payload bytes {@link #payloadInProgress()} exposes it, so the caller can read
 * the socket straight into it instead of through its own read buffer.
 *
 * <p>Extended mode ({@link #extended()}, once NBD_OPT_EXTENDED_HEADERS is agreed) reads 32-byte
 * headers with a 64-bit length. A payload follows exactly when the flags carry PAYLOAD_LEN: a WRITE's
 * goes to a buffer as above; any other command's is read past (the server answers EINVAL), and a
 * payload longer than {@link NbdProtocol#MAX_BUFFER_SIZE} is a framing error (the spec asks for a hard
 * disconnect). A length of 2^63 or more is a framing error too: no export is that large.
 *
 * <p>Not thread-safe: one reader per connection.
 */
public final class RequestDecoder {
    private enum State { HEADER, PAYLOAD, DISCARD }

    /** Makes WRITE payload buffers of the given length (position 0, limit = length); called after the limit check. */
    private final IntFunction<ByteBuffer> payloads;

    /** Written only by the reading thread. */
    private State state = State.HEADER;
    /** Whether headers are the 32-byte extended ones; set by the reading thread before transmission. */
    private boolean extended;
    /** The header being completed in PAYLOAD/DISCARD. */
    private Request pending;
    /** Payload being filled in PAYLOAD. */
    private ByteBuffer payload;
    /** Bytes left to skip in DISCARD. */
    private long discard;

    /** A decoder that allocates WRITE payloads on the heap. */
    public RequestDecoder() {
        this(ByteBuffer::allocate);
    }

    /**
     * @param payloads makes a WRITE payload buffer of exactly the given length (position 0, limit the
     *                 length); only called with lengths up to {@link NbdProtocol#MAX_BUFFER_SIZE}. It may
     *                 return null (no memory): the payload is then read past, not kept, and the request
     *                 comes out with {@link Request#payloadDropped()} as for an oversized WRITE
     */
    public RequestDecoder(IntFunction<ByteBuffer> payloads) {
        this.payloads = payloads;
    }

    /** Switches to extended headers (before the first request). */
    public RequestDecoder extended(boolean on) {
        this.extended = on;
        return this;
    }

    /**
     * The WRITE payload being filled, while the decoder waits for payload bytes (else null). Its
     * position is the number of bytes received so far; the caller may put further payload bytes in
     * it directly (never past its limit) and then call {@link #decode} to finish the request.
     */
    public ByteBuffer payloadInProgress() {
        return state == State.PAYLOAD ? payload : null;
    }

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
        if (extended) {
            return extendedHeader(in);
        }
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
        return payloadFor(header, in);
    }

    private Request extendedHeader(ByteBuffer in) throws NbdProtocolException {
        if (in.remaining() < NbdProtocol.EXTENDED_HEADER_SIZE) {
            return null;
        }
        int p = in.position();
        int magic = in.getInt(p);
        if (magic != NbdProtocol.EXTENDED_REQUEST_MAGIC) {
            throw new NbdProtocolException.BadMagic("extended request magic", magic & 0xffffffffL,
                    NbdProtocol.EXTENDED_REQUEST_MAGIC);
        }
        int flags = in.getShort(p + 4) & 0xffff;
        int type = in.getShort(p + 6) & 0xffff;
        long cookie = in.getLong(p + 8);
        long offset = in.getLong(p + 16);
        long length = in.getLong(p + 24);
        if (length < 0) {
            throw new NbdProtocolException.LimitExceeded("request length", length, Long.MAX_VALUE);
        }
        in.position(p + NbdProtocol.EXTENDED_HEADER_SIZE);
        Request header = new Request(flags, type, cookie, offset, length, null);
        if (!header.has(NbdProtocol.CommandFlag.PAYLOAD_LEN)) {
            return header; // length is an effect length; nothing follows (a WRITE without it gets EINVAL)
        }
        if (length > NbdProtocol.MAX_BUFFER_SIZE) {
            throw new NbdProtocolException.LimitExceeded("payload length", length, NbdProtocol.MAX_BUFFER_SIZE);
        }
        if (type != Command.WRITE.code()) {
            pending = header; // a payload no command of ours takes: read past it, answer EINVAL
            state = State.DISCARD;
            discard = length;
            return discard(in);
        }
        return payloadFor(header, in);
    }

    /** After a WRITE header: its payload into a buffer, or read past when too large or refused. */
    private Request payloadFor(Request header, ByteBuffer in) {
        long length = header.length();
        pending = header;
        if (length > NbdProtocol.MAX_BUFFER_SIZE) {
            state = State.DISCARD;
            discard = length;
            return discard(in);
        }
        payload = payloads.apply((int) length);
        if (payload == null) {
            // no memory for it: read past the payload, so the caller can answer and stay in step
            state = State.DISCARD;
            discard = length;
            return discard(in);
        }
        state = State.PAYLOAD;
        if (payload.position() != 0 || payload.limit() != length) {
            throw new IllegalStateException("payload allocator returned " + payload + " for " + length + " bytes");
        }
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
