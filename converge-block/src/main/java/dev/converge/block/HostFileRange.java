package dev.converge.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;

/**
 * Bytes of a node that are, unchanged, the bytes [position, position + length) of a host file: a
 * reader may send them with {@code sendfile(2)} ({@link #transferTo}) instead of reading them into
 * memory and writing them out again (the NBD server's READ replies). Made by
 * {@link BlockNode#hostFileRange}; a reader that gets none reads the node as usual.
 * <p>
 * The range holds the file open ({@link HostFile#lease}) until {@link #close}, not the node: the
 * request that asked for it has left the node's gate, so a client that is slow to take the bytes
 * never holds up a drain. What it reads is the file as it is during the transfer, as a read that
 * runs concurrently with a write may see either (the node's writes and this channel share the
 * host's page cache).
 * <p>
 * One user at a time; {@link #close} is idempotent.
 */
public final class HostFileRange implements AutoCloseable {
    private final HostFile file;
    private final FileChannel channel;
    private final long position;
    private final long length;
    /** Set by {@link #close}; only the user's thread touches it. */
    private boolean closed;

    HostFileRange(HostFile file, FileChannel channel, long position, long length) {
        this.file = file;
        this.channel = channel;
        this.position = position;
        this.length = length;
    }

    /** Bytes in the range. */
    public long length() {
        return length;
    }

    /** Where the range starts in the host file (for tests and logs). */
    public long position() {
        return position;
    }

    /**
     * Sends up to {@code count} bytes of the range, from {@code from} on, into {@code target} with
     * one {@link FileChannel#transferTo} (sendfile(2) for a socket channel). Returns the bytes sent:
     * fewer than asked when a non-blocking socket is full, 0 when the file ends there (it shrank
     * behind the node): read the rest with {@link #read}.
     */
    public long transferTo(long from, long count, WritableByteChannel target) throws IOException {
        check(from, count);
        return channel.transferTo(position + from, count, target);
    }

    /**
     * Reads the range's bytes from {@code from} on into {@code dst} (position to limit, which ends at
     * the limit); past the file's end they read as zeroes, as the file driver's reads do.
     */
    public void read(long from, ByteBuffer dst) throws IOException {
        check(from, dst.remaining());
        long at = position + from;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, at);
            if (n < 0) {
                while (dst.hasRemaining()) {
                    dst.put((byte) 0);
                }
                return;
            }
            at += n;
        }
    }

    private void check(long from, long count) {
        if (closed) {
            throw new IllegalStateException("host file range used after close");
        }
        if (from < 0 || count < 0 || from > length - count) {
            throw new IndexOutOfBoundsException(count + " bytes at " + from + " of a range of " + length);
        }
    }

    /** Gives the file back; the last holder closes it once its node closed too. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            file.release();
        }
    }

    @Override
    public String toString() {
        return "host file range [" + position + ", +" + length + ") of " + file;
    }
}
