package dev.converge.block.mirror;

import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Extent;
import dev.converge.block.NodeOptions;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A mirror target in memory whose writes from a job's copy threads ({@code JOBID-copy-N}) can
 * be held until {@link #release()}; every other writer (the guest's write-blocking writes) passes
 * at once. It says whether it {@linkplain #writesIntoHostPageCache writes into the host page
 * cache} as told, so a test sees how a mirror treats such a target, and it counts the copy writes
 * waiting at the hold.
 */
final class HeldCopyWritesNode extends BlockNode {
    private final byte[] data;
    private final boolean pageCache;
    private final Hold copyWrites = new Hold(true);

    HeldCopyWritesNode(String nodeName, int size, boolean pageCache) {
        super(nodeName, "test-held-copy-writes", NodeOptions.DEFAULTS);
        this.data = new byte[size];
        this.pageCache = pageCache;
    }

    void release() {
        copyWrites.release();
    }

    /** Copy writes waiting at the hold now. */
    int waiting() {
        return copyWrites.waiting();
    }

    /** A copy of the bytes now. */
    byte[] contents() {
        synchronized (data) {
            return data.clone();
        }
    }

    @Override
    public boolean writesIntoHostPageCache() {
        return pageCache;
    }

    @Override
    public long size() {
        return data.length;
    }

    @Override
    public String filename() {
        return "held-copy-writes:" + nodeName();
    }

    private void holdIfCopy() {
        if (Thread.currentThread().getName().contains("-copy-")) {
            copyWrites.pass();
        }
    }

    @Override
    protected void doRead(long offset, MemorySegment dst) {
        synchronized (data) {
            MemorySegment.copy(MemorySegment.ofArray(data), offset, dst, 0, dst.byteSize());
        }
    }

    @Override
    protected void doWrite(long offset, MemorySegment src, boolean fua) {
        holdIfCopy();
        synchronized (data) {
            MemorySegment.copy(src, 0, MemorySegment.ofArray(data), offset, src.byteSize());
        }
    }

    @Override
    protected void doWriteZeroes(long offset, long bytes, boolean mayUnmap, boolean noFallback) {
        holdIfCopy();
        synchronized (data) {
            MemorySegment.ofArray(data).asSlice(offset, bytes).fill((byte) 0);
        }
    }

    @Override
    protected void doDiscard(long offset, long bytes) {
        // discard=ignore (the default options): never called
    }

    @Override
    protected void doFlush() {
    }

    @Override
    protected List<Extent> doBlockStatus(long offset, long bytes) throws BlockIOException {
        return List.of(new Extent(offset, bytes, Extent.DATA | Extent.ALLOCATED)); // never skipped: every granule is copied
    }
}
