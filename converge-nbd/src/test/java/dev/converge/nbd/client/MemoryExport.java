package dev.converge.nbd.client;

import dev.converge.nbd.server.NbdExportBackend;
import dev.converge.nbd.wire.Extent;
import java.nio.ByteBuffer;
import java.util.List;

/** A RAM export for client tests; synchronized, which is enough here. */
final class MemoryExport implements NbdExportBackend {
    private final byte[] bytes;

    MemoryExport(int size) {
        bytes = new byte[size];
    }

    @Override
    public long size() {
        return bytes.length;
    }

    @Override
    public synchronized void read(long offset, ByteBuffer dst) {
        dst.put(bytes, (int) offset, dst.remaining());
    }

    @Override
    public synchronized void write(long offset, ByteBuffer src, boolean fua) {
        src.get(bytes, (int) offset, src.remaining());
    }

    @Override
    public synchronized void writeZeroes(long offset, long length, boolean mayTrim, boolean fastZero) {
        java.util.Arrays.fill(bytes, (int) offset, (int) (offset + length), (byte) 0);
    }

    @Override
    public void trim(long offset, long length) {
    }

    @Override
    public void flush() {
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) {
        return List.of(Extent.data(length));
    }
}
