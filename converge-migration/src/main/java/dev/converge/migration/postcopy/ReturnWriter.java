package dev.converge.migration.postcopy;

import dev.converge.migration.wire.ReturnMessage;
import dev.converge.migration.wire.StreamEncoder;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * The destination's return path during postcopy: the receiving thread and the vCPUs (page
 * requests) write to it, one message at a time. While paused it has no channel and drops what it
 * is given (requested pages are asked again after recovery).
 */
final class ReturnWriter {
    /** The connection, or null while paused; guarded by this. */
    private WritableByteChannel channel;

    synchronized void use(WritableByteChannel ch) {
        channel = ch;
    }

    /** Writes {@code m}; returns whether it went out (false while paused or when the write failed). */
    synchronized boolean send(ReturnMessage m) {
        if (channel == null) {
            return false;
        }
        ByteBuffer b = StreamEncoder.encode(m);
        try {
            while (b.hasRemaining()) {
                channel.write(b);
            }
            return true;
        } catch (IOException e) {
            channel = null; // the receiving thread sees the break on its next read and pauses
            return false;
        }
    }
}
