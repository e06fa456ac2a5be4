package dev.converge.qmp.tls;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;

/** A blocking socket channel (TCP or UNIX). */
public final class PlainTransport implements Transport {
    private final SocketChannel channel;
    private final String peer;

    public PlainTransport(SocketChannel channel, String peer) {
        this.channel = channel;
        this.peer = peer;
    }

    SocketChannel channel() {
        return channel;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return channel.read(dst);
    }

    /** One readv: the rest of a WRITE payload and the requests behind it in a single call. */
    @Override
    public long read(ByteBuffer[] dsts) throws IOException {
        return channel.read(dsts);
    }

    @Override
    public void write(ByteBuffer... srcs) throws IOException {
        long left = 0;
        for (ByteBuffer b : srcs) {
            left += b.remaining();
        }
        while (left > 0) {
            left -= channel.write(srcs);
        }
    }

    @Override
    public WritableByteChannel sendfileTarget() {
        return channel;
    }

    @Override
    public boolean secure() {
        return false;
    }

    @Override
    public String peer() {
        return peer;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
