package dev.converge.qmp.tls;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * The byte pipe of one connection: plain socket channel or TLS over it. One thread reads; writes
 * come from several threads and are serialised by the caller ({@link ReplyWriter}).
 */
public interface Transport extends Closeable {
    /** Reads some bytes into {@code dst}; blocks until at least one arrives; -1 at end of stream. */
    int read(ByteBuffer dst) throws IOException;

    /**
     * Reads some bytes into {@code dsts}, filling them in order (a scattering read); blocks until at
     * least one arrives; -1 at end of stream. This default reads into the first buffer with room only.
     */
    default long read(ByteBuffer[] dsts) throws IOException {
        for (ByteBuffer b : dsts) {
            if (b.hasRemaining()) {
                return read(b);
            }
        }
        return 0;
    }

    /** Writes all of {@code srcs}, in order. */
    void write(ByteBuffer... srcs) throws IOException;

    /**
     * The socket itself, for a writer that sends a file's bytes with {@code FileChannel.transferTo}
     * (sendfile) while it holds the writes' serialisation; null when bytes must pass through this
     * transport (TLS encrypts them). Bytes sent there go out in order with {@link #write}'s.
     */
    default WritableByteChannel sendfileTarget() {
        return null;
    }

    /** Whether this transport is encrypted. */
    boolean secure();

    /** Peer description for logs. */
    String peer();
}
