package dev.converge.nbd.server;

import dev.converge.qmp.tls.Transport;
import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.nbd.wire.NbdProtocol.Errno;
import dev.converge.nbd.wire.NbdProtocol.ReplyType;
import dev.converge.nbd.wire.Request;
import dev.converge.nbd.wire.SimpleReply;
import dev.converge.nbd.wire.StructuredChunk;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The single writer of a connection's transmission phase. Each reply or chunk goes out whole under
 * {@link #lock}, so chunks of different requests interleave only at chunk boundaries (as the spec
 * allows) and never inside one. Data buffers are written as they are, not copied into a frame.
 *
 * <p>Replies are queued, and whoever finds the lock free sends everything queued (a combining
 * writer): a request thread never parks behind another's reply. Measured before this: with nbdcopy
 * reads of 256 KiB sent with sendfile, 35-40 % of the replies found the lock held, each a park, a
 * wake-up and two context switches on a 2-CPU machine. So a call may return before its reply is out;
 * what must wait for it (giving back the request's buffers and its in-flight permit) is queued
 * behind it with {@link #afterReplies}. Each thread's items go out in the order it queued them.
 * Once a write failed (the client is gone) the queued items are released without being sent.
 *
 * <p>Three header styles, fixed by the handshake: simple replies only; structured chunks (20-byte
 * headers) and simple replies without data; or, with extended headers, 32-byte extended chunks for
 * everything, a bare success included (a NONE chunk), each carrying the offset of its request.
 */
final class ReplyWriter {
    private final Transport transport;
    private final boolean structured;
    private final boolean extended;
    /** Held while queued replies are written; never held across backend I/O. */
    private final ReentrantLock lock = new ReentrantLock();
    /** Replies and release actions not yet sent or run, in queue order. */
    private final ConcurrentLinkedQueue<Item> queue = new ConcurrentLinkedQueue<>();
    /** Set when a write failed; guarded by {@link #lock}. Later items are released unsent. */
    private boolean broken;

    /** A queued reply, or a release action ({@link #afterReplies}). */
    private interface Item {
        /** Writes the item; called under {@link #lock}. */
        void send() throws IOException;

        /** Gives back what the item held, sent or not; runs once. */
        default void release() {
        }
    }

    ReplyWriter(Transport transport, boolean structured, boolean extended) {
        this.transport = transport;
        this.structured = structured || extended;
        this.extended = extended;
    }

    /** Success without data. */
    void done(Request r) throws IOException {
        if (extended) {
            chunk(r, StructuredChunk.none(r.cookie()));
        } else {
            write(new SimpleReply(0, r.cookie(), null).encodeHeader());
        }
    }

    /** A simple reply carrying READ data (neither structured replies nor extended headers agreed). */
    void simpleData(Request r, ByteBuffer data) throws IOException {
        if (structured) {
            throw new IllegalStateException("a simple reply with data after structured replies were agreed");
        }
        write(new SimpleReply(0, r.cookie(), null).encodeHeader(), data);
    }

    void chunk(Request r, StructuredChunk chunk) throws IOException {
        write(header(r, chunk.flags(), chunk.type(), chunk.payload().remaining()), chunk.payload().duplicate());
    }

    /** An OFFSET_DATA chunk written without copying {@code data}. */
    void data(Request r, long offset, ByteBuffer data, boolean done) throws IOException {
        ByteBuffer header = header(r, done ? NbdProtocol.REPLY_FLAG_DONE : 0, ReplyType.OFFSET_DATA,
                8 + data.remaining());
        ByteBuffer off = ByteBuffer.allocate(8).putLong(0, offset);
        write(header, off, data);
    }

    /** Whether {@link #fileData} can be used: a plain socket (TLS must encrypt every byte itself). */
    boolean sendsFiles() {
        return transport.sendfileTarget() != null;
    }

    /**
     * READ data sent from a host file with sendfile, in an OFFSET_DATA chunk or, without structured
     * replies, a simple reply: the header, then the region's bytes straight from the page cache into
     * the socket. The writer owns {@code region} from here on and closes it once the reply is out. What the socket does not take at once (its descriptor is non-blocking once a
     * virtual thread used it, and sendfile then stops when the send buffer is full) or what the file
     * no longer holds is read into {@code spare} (the request's READ buffer, as long as the region)
     * and written from there. A failure after the header leaves a cut reply: it is thrown as a plain
     * {@link IOException}, never as the request's error, so the connection is closed.
     */
    void fileData(Request r, long offset, NbdExportBackend.FileRegion region, ByteBuffer spare, boolean done)
            throws IOException {
        int len = Math.toIntExact(region.length());
        ByteBuffer[] head = structured
                ? new ByteBuffer[] {header(r, done ? NbdProtocol.REPLY_FLAG_DONE : 0, ReplyType.OFFSET_DATA, 8 + len),
                        ByteBuffer.allocate(8).putLong(0, offset)}
                : new ByteBuffer[] {new SimpleReply(0, r.cookie(), null).encodeHeader()};
        WritableByteChannel socket = transport.sendfileTarget();
        submit(new Item() {
            @Override
            public void send() throws IOException {
                transport.write(head);
                try {
                    long sent = 0;
                    while (sent < len) {
                        long n = region.transferTo(sent, len - sent, socket);
                        if (n <= 0) {
                            break;
                        }
                        sent += n;
                    }
                    if (sent < len) {
                        ByteBuffer rest = spare.slice(0, len - (int) sent);
                        region.read(sent, rest);
                        transport.write(rest.flip());
                    }
                } catch (IOException | RuntimeException e) {
                    throw new IOException("READ reply to " + r + " cut off after its header: " + e, e);
                }
            }

            @Override
            public void release() {
                region.close();
            }
        });
    }

    /**
     * Runs {@code action} once every reply queued so far by this thread is out (or the connection
     * broke): the request's buffers and permit are given back there, not while a queued reply still
     * reads them. Runs at once on this thread when nothing is queued or the lock is free.
     */
    void afterReplies(Runnable action) throws IOException {
        submit(new Item() {
            @Override
            public void send() {
            }

            @Override
            public void release() {
                action.run();
            }
        });
    }

    /** An error reply: an ERROR chunk when structured replies or extended headers are on, else a simple reply. */
    void error(Request r, Errno errno, String message) throws IOException {
        if (structured) {
            chunk(r, StructuredChunk.error(r.cookie(), errno, message, true));
        } else {
            write(new SimpleReply(errno.wire(), r.cookie(), null).encodeHeader());
        }
    }

    private ByteBuffer header(Request r, int flags, ReplyType type, int payloadLength) {
        return extended ? StructuredChunk.extendedHeader(flags, type, r.cookie(), r.offset(), payloadLength)
                : StructuredChunk.header(flags, type, r.cookie(), payloadLength);
    }

    private void write(ByteBuffer... buffers) throws IOException {
        submit(() -> transport.write(buffers));
    }

    /**
     * Queues {@code item}, then sends the queue while the lock is free. When another thread holds it,
     * that thread sends this item too: it looks at the queue again after every unlock, and this item
     * was queued before the lock was found held (so before that unlock). Throws when a write this
     * thread made failed; the queue is released then, and the connection is to be closed.
     */
    private void submit(Item item) throws IOException {
        queue.add(item);
        IOException failure = null;
        while (!queue.isEmpty() && lock.tryLock()) {
            try {
                for (Item i; (i = queue.poll()) != null; ) {
                    try {
                        if (!broken) {
                            i.send();
                        }
                    } catch (IOException | RuntimeException e) {
                        broken = true;
                        failure = e instanceof IOException io ? io : new IOException("reply not sent: " + e, e);
                    } finally {
                        i.release();
                    }
                }
            } finally {
                lock.unlock();
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
