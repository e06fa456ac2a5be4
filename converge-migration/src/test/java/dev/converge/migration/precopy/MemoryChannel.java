package dev.converge.migration.precopy;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;

/**
 * A channel in memory: reads come from a fixed input (in chunks of at most {@code chunk}
 * bytes, then end of stream), writes are collected.
 */
final class MemoryChannel implements ByteChannel, GatheringByteChannel {
    private final ByteBuffer input;
    private final int chunk;
    private final ByteArrayOutputStream written = new ByteArrayOutputStream();

    MemoryChannel(byte[] input, int chunk) {
        this.input = ByteBuffer.wrap(input);
        this.chunk = chunk;
    }

    byte[] written() {
        return written.toByteArray();
    }

    @Override
    public int read(ByteBuffer dst) {
        if (!input.hasRemaining()) {
            return -1;
        }
        int n = Math.min(Math.min(chunk, dst.remaining()), input.remaining());
        dst.put(input.slice(input.position(), n));
        input.position(input.position() + n);
        return n;
    }

    @Override
    public int write(ByteBuffer src) {
        int n = src.remaining();
        byte[] b = new byte[n];
        src.get(b);
        written.writeBytes(b);
        return n;
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) {
        long n = 0;
        for (int i = offset; i < offset + length; i++) {
            n += write(srcs[i]);
        }
        return n;
    }

    @Override
    public long write(ByteBuffer[] srcs) {
        return write(srcs, 0, srcs.length);
    }

    @Override
    public boolean isOpen() {
        return true;
    }

    @Override
    public void close() {
    }
}
