package dev.converge.nbd.server;

import dev.converge.nbd.wire.Extent;
import dev.converge.nbd.wire.IoErrorKind;
import dev.converge.nbd.wire.NbdIoException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.function.LongFunction;

/**
 * An in-memory image that tracks allocation per 4 KiB cluster (so base:allocation and sparse reads
 * have holes to report) and one dirty bitmap named {@link #BITMAP}. Thread-safe by a monitor: tests
 * need correctness, not speed.
 */
class MemoryBackend implements NbdExportBackend {
    static final int CLUSTER = 4096;
    static final String BITMAP = "dirty0";

    private final byte[] data;
    private final boolean readOnly;
    private final boolean fastZero;
    /** Allocated clusters; guarded by this. */
    private final BitSet allocated = new BitSet();
    /** Dirty clusters; guarded by this. */
    private final BitSet dirty = new BitSet();
    /** Calls of {@link #blockStatus} so far; guarded by this. */
    private int blockStatusCalls;
    /** Flushes so far; guarded by this. */
    private int flushes;
    /** Fault to inject on reads at an offset, or null; guarded by this. */
    private LongFunction<NbdIoException> readFault;

    MemoryBackend(int size, boolean readOnly, boolean fastZero) {
        this.data = new byte[size];
        this.readOnly = readOnly;
        this.fastZero = fastZero;
    }

    MemoryBackend(int size) {
        this(size, false, true);
    }

    /** Fills [offset, offset+len) with a pattern and marks it allocated (not dirty). */
    synchronized MemoryBackend fill(long offset, int len, byte value) {
        java.util.Arrays.fill(data, (int) offset, (int) offset + len, value);
        allocated.set((int) (offset / CLUSTER), (int) ((offset + len + CLUSTER - 1) / CLUSTER));
        return this;
    }

    synchronized byte[] snapshot() {
        return data.clone();
    }

    synchronized int flushes() {
        return flushes;
    }

    synchronized void failReadsWith(LongFunction<NbdIoException> fault) {
        this.readFault = fault;
    }

    @Override
    public long size() {
        return data.length;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public synchronized void read(long offset, ByteBuffer dst) throws NbdIoException {
        if (readFault != null) {
            NbdIoException e = readFault.apply(offset);
            if (e != null) {
                throw e;
            }
        }
        dst.put(data, (int) offset, dst.remaining());
    }

    @Override
    public synchronized void write(long offset, ByteBuffer src, boolean fua) {
        int len = src.remaining();
        src.get(data, (int) offset, len);
        mark(offset, len);
    }

    private void mark(long offset, long len) {
        int from = (int) (offset / CLUSTER);
        int to = (int) ((offset + len + CLUSTER - 1) / CLUSTER);
        allocated.set(from, to);
        dirty.set(from, to);
    }

    @Override
    public synchronized void writeZeroes(long offset, long length, boolean mayTrim, boolean fast)
            throws NbdIoException {
        if (fast && !fastZero) {
            throw new NbdIoException(IoErrorKind.NOT_SUPPORTED, "not fast");
        }
        java.util.Arrays.fill(data, (int) offset, (int) (offset + length), (byte) 0);
        dirty.set((int) (offset / CLUSTER), (int) ((offset + length + CLUSTER - 1) / CLUSTER));
        if (mayTrim) {
            // only whole clusters become holes
            int first = (int) ((offset + CLUSTER - 1) / CLUSTER);
            int end = (int) ((offset + length) / CLUSTER);
            if (end > first) {
                allocated.clear(first, end);
            }
        } else {
            mark(offset, length);
        }
    }

    @Override
    public synchronized void trim(long offset, long length) throws NbdIoException {
        writeZeroes(offset, length, true, false);
    }

    @Override
    public synchronized void flush() {
        flushes++;
    }

    @Override
    public boolean canFastZero() {
        return fastZero;
    }

    /** base:allocation queries so far. */
    synchronized int blockStatusCalls() {
        return blockStatusCalls;
    }

    @Override
    public synchronized List<Extent> blockStatus(long offset, long length) {
        blockStatusCalls++;
        return extents(offset, length, allocated, Extent::data, Extent::hole);
    }

    @Override
    public Optional<DirtyBitmapView> dirtyBitmap(String name) {
        if (!BITMAP.equals(name)) {
            return Optional.empty();
        }
        return Optional.of((offset, length) -> {
            synchronized (this) {
                return extents(offset, length, dirty, Extent::dirty, Extent::clean);
            }
        });
    }

    private List<Extent> extents(long offset, long length, BitSet set, LongFunction<Extent> on,
                                 LongFunction<Extent> off) {
        List<Extent> out = new ArrayList<>();
        long end = Math.min(offset + length, data.length);
        long pos = offset;
        while (pos < end) {
            int c = (int) (pos / CLUSTER);
            boolean state = set.get(c);
            int next = state ? set.nextClearBit(c) : set.nextSetBit(c);
            long stop = next < 0 ? end : Math.min(end, (long) next * CLUSTER);
            out.add(state ? on.apply(stop - pos) : off.apply(stop - pos));
            pos = stop;
        }
        return out;
    }
}
