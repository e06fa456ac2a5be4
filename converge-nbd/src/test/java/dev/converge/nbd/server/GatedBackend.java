package dev.converge.nbd.server;

import dev.converge.nbd.wire.Extent;
import dev.converge.nbd.wire.IoErrorKind;
import dev.converge.nbd.wire.NbdIoException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/** Wraps a backend so reads at {@link #gatedOffset} wait for {@link #gate}, and counts reads in progress. */
final class GatedBackend implements NbdExportBackend {
    final MemoryBackend inner;
    final long gatedOffset;
    final CountDownLatch gate = new CountDownLatch(1);
    final AtomicInteger inProgress = new AtomicInteger();
    final AtomicInteger maxInProgress = new AtomicInteger();
    /** When true every read waits at the gate. */
    final boolean gateAll;

    GatedBackend(MemoryBackend inner, long gatedOffset, boolean gateAll) {
        this.inner = inner;
        this.gatedOffset = gatedOffset;
        this.gateAll = gateAll;
    }

    @Override
    public long size() {
        return inner.size();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws NbdIoException {
        int now = inProgress.incrementAndGet();
        maxInProgress.accumulateAndGet(now, Math::max);
        try {
            if (gateAll || offset == gatedOffset) {
                gate.await();
            }
            inner.read(offset, dst);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NbdIoException(IoErrorKind.IO, "interrupted");
        } finally {
            inProgress.decrementAndGet();
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws NbdIoException {
        inner.write(offset, src, fua);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayTrim, boolean fastZero) throws NbdIoException {
        inner.writeZeroes(offset, length, mayTrim, fastZero);
    }

    @Override
    public void trim(long offset, long length) throws NbdIoException {
        inner.trim(offset, length);
    }

    @Override
    public void flush() {
        inner.flush();
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) {
        return List.of(Extent.data(length));
    }
}
