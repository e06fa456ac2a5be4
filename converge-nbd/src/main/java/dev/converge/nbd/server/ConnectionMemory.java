package dev.converge.nbd.server;

import java.nio.ByteBuffer;
import java.util.concurrent.Semaphore;

/**
 * One connection's share of {@link RequestMemory}: at most {@code limit} bytes of request buffers at
 * once (counted as {@link RequestMemory#footprint}), so that a client that stops reading its replies
 * ties up that much and no more, whatever it keeps sending. Past its own limit a connection's reader
 * waits (the client's further requests stay in the socket); past the process-wide budget it waits up
 * to {@code waitNanos}, and then the request is answered ENOMEM.
 *
 * <p>{@link #take} is called by the connection's reader only; {@link #give} by any request thread.
 */
final class ConnectionMemory {
    private final RequestMemory shared;
    /** This connection's free bytes, in pages. */
    private final Semaphore own;
    private final long waitNanos;

    ConnectionMemory(RequestMemory shared, long limit, long waitNanos) {
        if (limit < RequestMemory.footprint(dev.converge.nbd.wire.NbdProtocol.MAX_BUFFER_SIZE)) {
            throw new IllegalArgumentException("limit: " + limit + " (expected: at least one request of the "
                    + "largest size)");
        }
        this.shared = shared;
        this.own = new Semaphore((int) Math.min(Integer.MAX_VALUE, limit / RequestMemory.PAGE));
        this.waitNanos = waitNanos;
    }

    /** A buffer for {@code len} bytes (limit {@code len}), or null: no memory in time, answer ENOMEM. */
    ByteBuffer take(int len) {
        int pages = RequestMemory.footprint(len) / RequestMemory.PAGE;
        own.acquireUninterruptibly(pages); // only this connection waits: its own requests hold the memory
        ByteBuffer b = shared.take(len, waitNanos);
        if (b == null) {
            own.release(pages);
        }
        return b;
    }

    /** Gives back a buffer from {@link #take} of a request of {@code len} bytes. */
    void give(ByteBuffer b, int len) {
        shared.give(b);
        own.release(RequestMemory.footprint(len) / RequestMemory.PAGE);
    }
}
