package dev.converge.migration.multifd;

import java.io.IOException;
import java.nio.channels.ByteChannel;

/**
 * The destination's side of {@link ChannelOpener}: accepts the next connection on the incoming
 * listener through its one accept path (where TLS wraps every connection), and stops listening
 * on {@link #close} (once every channel is in, when the stream turned out not to use multifd,
 * or at the end).
 */
public interface ChannelAcceptor extends AutoCloseable {
    /** An acceptor that has nothing to accept (the stream must not use multifd). */
    ChannelAcceptor NONE = new ChannelAcceptor() {
        @Override
        public boolean accepting() {
            return false;
        }

        @Override
        public ByteChannel accept() throws IOException {
            throw new IOException("this destination accepts no multifd channels");
        }

        @Override
        public void close() {
        }
    };

    /**
     * Whether this destination takes multifd channels at all: its own capability {@code multifd}
     * (as QEMU's destination, which treats extra connections as multifd channels only with it).
     * A stream whose use of multifd differs is refused with QEMU's capability text.
     */
    default boolean accepting() {
        return true;
    }

    /** The next connection, blocking; a {@link #close} from another thread ends the wait with an IOException. */
    ByteChannel accept() throws IOException;

    /** Stops listening; idempotent. */
    @Override
    void close();
}
