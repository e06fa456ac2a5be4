package dev.converge.nbd.server;

import dev.converge.nbd.transport.Transport;
import dev.converge.nbd.wire.NbdProtocol.Errno;
import dev.converge.nbd.wire.NbdProtocol.ReplyType;
import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.nbd.wire.SimpleReply;
import dev.converge.nbd.wire.StructuredChunk;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The single writer of a connection's transmission phase. Each reply or chunk goes out whole under
 * {@link #lock}, so chunks of different requests interleave only at chunk boundaries (as the spec
 * allows) and never inside one. Data buffers are written as they are, not copied into a frame.
 */
final class ReplyWriter {
    private final Transport transport;
    /** Held while one reply or chunk is written; never held across backend I/O. */
    private final ReentrantLock lock = new ReentrantLock();

    ReplyWriter(Transport transport) {
        this.transport = transport;
    }

    void simple(long cookie, int error, ByteBuffer data) throws IOException {
        ByteBuffer header = new SimpleReply(error, cookie, null).encodeHeader();
        write(data == null ? new ByteBuffer[] {header} : new ByteBuffer[] {header, data});
    }

    void chunk(StructuredChunk chunk) throws IOException {
        ByteBuffer header = StructuredChunk.header(chunk.flags(), chunk.type(), chunk.cookie(),
                chunk.payload().remaining());
        write(header, chunk.payload().duplicate());
    }

    /** An OFFSET_DATA chunk written without copying {@code data}. */
    void data(long cookie, long offset, ByteBuffer data, boolean done) throws IOException {
        ByteBuffer header = StructuredChunk.header(done ? NbdProtocol.REPLY_FLAG_DONE : 0, ReplyType.OFFSET_DATA,
                cookie, 8 + data.remaining());
        ByteBuffer off = ByteBuffer.allocate(8).putLong(0, offset);
        write(header, off, data);
    }

    /** An error reply: a structured ERROR chunk when structured replies are on, else a simple reply. */
    void error(long cookie, boolean structured, Errno errno, String message) throws IOException {
        if (structured) {
            chunk(StructuredChunk.error(cookie, errno, message, true));
        } else {
            simple(cookie, errno.wire(), null);
        }
    }

    private void write(ByteBuffer... buffers) throws IOException {
        lock.lock();
        try {
            transport.write(buffers);
        } finally {
            lock.unlock();
        }
    }
}
