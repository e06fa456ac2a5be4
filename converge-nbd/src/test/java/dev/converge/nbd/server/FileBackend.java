package dev.converge.nbd.server;

import dev.converge.nbd.wire.Extent;
import dev.converge.nbd.wire.IoErrorKind;
import dev.converge.nbd.wire.NbdIoException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** A raw image file through a FileChannel; reports everything as allocated data. */
final class FileBackend implements NbdExportBackend, AutoCloseable {
    private final FileChannel channel;
    private final long size;
    private final AtomicInteger blockStatusCalls = new AtomicInteger();

    FileBackend(Path file) throws IOException {
        this.channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        this.size = channel.size();
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws NbdIoException {
        try {
            long pos = offset;
            while (dst.hasRemaining()) {
                int n = channel.read(dst, pos);
                if (n < 0) {
                    throw new NbdIoException(IoErrorKind.IO, "unexpected end of file at " + pos);
                }
                pos += n;
            }
        } catch (IOException e) {
            throw io(e);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws NbdIoException {
        try {
            long pos = offset;
            while (src.hasRemaining()) {
                pos += channel.write(src, pos);
            }
            if (fua) {
                channel.force(false);
            }
        } catch (IOException e) {
            throw io(e);
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayTrim, boolean fastZero) throws NbdIoException {
        ByteBuffer zeroes = ByteBuffer.allocate((int) Math.min(length, 1 << 20));
        long pos = offset;
        while (pos < offset + length) {
            zeroes.clear().limit((int) Math.min(zeroes.capacity(), offset + length - pos));
            write(pos, zeroes, false);
            pos += zeroes.limit();
        }
    }

    @Override
    public void trim(long offset, long length) {
        // advisory: keeping the data is a valid trim
    }

    @Override
    public void flush() throws NbdIoException {
        try {
            channel.force(false);
        } catch (IOException e) {
            throw io(e);
        }
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) {
        blockStatusCalls.incrementAndGet();
        return List.of(Extent.data(Math.min(length, Extent.MAX_LENGTH)));
    }

    /** Calls of {@link #blockStatus} so far. */
    int blockStatusCalls() {
        return blockStatusCalls.get();
    }

    private static NbdIoException io(IOException e) {
        return new NbdIoException(IoErrorKind.IO, e.getMessage(), e);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
