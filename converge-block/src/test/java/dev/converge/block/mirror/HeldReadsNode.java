package dev.converge.block.mirror;

import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Extent;
import dev.converge.block.NodeOptions;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A test node in memory whose reads can be held: while {@link #hold()} is in force every read
 * waits at the node (a fault injection in time, like QEMU's blkdebug break points) until
 * {@link #release()}. Writes, zeroing and block status are never held. Used as a mirror's
 * source, it holds the mirror's copy operations (they read the source) and nothing of the
 * guest, whose writes only write. Block status says ZERO for every all-zero 4 KiB piece, and the
 * node counts the bytes read, so a test sees what a mirror skipped.
 */
final class HeldReadsNode extends BlockNode {
    private final byte[] data;
    private final Hold reads = new Hold(false);
    /** Bytes read so far. */
    private final java.util.concurrent.atomic.AtomicLong bytesRead = new java.util.concurrent.atomic.AtomicLong();
    /** Block status in pieces of this many bytes: all-zero pieces are ZERO, others DATA. */
    static final int STATUS_PIECE = 4096;

    HeldReadsNode(String nodeName, byte[] initial) {
        super(nodeName, "test-held-reads", NodeOptions.DEFAULTS);
        this.data = initial.clone();
    }

    void hold() {
        reads.hold();
    }

    void release() {
        reads.release();
    }

    /** Reads waiting at the hold now. */
    int waiting() {
        return reads.waiting();
    }

    /** Bytes read from this node so far. */
    long bytesRead() {
        return bytesRead.get();
    }

    /** A copy of the bytes now. */
    byte[] contents() {
        synchronized (data) {
            return data.clone();
        }
    }

    @Override
    public long size() {
        return data.length;
    }

    @Override
    public String filename() {
        return "held-reads:" + nodeName();
    }

    @Override
    protected void doRead(long offset, MemorySegment dst) {
        reads.pass();
        synchronized (data) {
            MemorySegment.copy(MemorySegment.ofArray(data), offset, dst, 0, dst.byteSize());
        }
        bytesRead.addAndGet(dst.byteSize());
    }

    @Override
    protected void doWrite(long offset, MemorySegment src, boolean fua) {
        synchronized (data) {
            MemorySegment.copy(src, 0, MemorySegment.ofArray(data), offset, src.byteSize());
        }
    }

    @Override
    protected void doWriteZeroes(long offset, long bytes, boolean mayUnmap, boolean noFallback) {
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
        List<Extent> out = new java.util.ArrayList<>();
        MemorySegment all = MemorySegment.ofArray(data);
        synchronized (data) {
            for (long pos = offset; pos < offset + bytes;) {
                long end = Math.min(offset + bytes, (pos / STATUS_PIECE + 1) * STATUS_PIECE);
                boolean zero = true;
                for (long i = pos; i < end && zero; i++) {
                    zero = all.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) == 0;
                }
                out.add(new Extent(pos, end - pos, (zero ? Extent.ZERO : Extent.DATA) | Extent.ALLOCATED));
                pos = end;
            }
        }
        return out; // merged by the node's request path
    }
}
