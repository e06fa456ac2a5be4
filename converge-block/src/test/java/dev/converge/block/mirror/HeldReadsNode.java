package dev.converge.block.mirror;

import dev.converge.block.BlockIOException;
import dev.converge.block.Extent;
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
final class HeldReadsNode extends MemoryTestNode {
    private final Hold reads = new Hold(false);
    /** Bytes read so far. */
    private final java.util.concurrent.atomic.AtomicLong bytesRead = new java.util.concurrent.atomic.AtomicLong();
    /** Block status in pieces of this many bytes: all-zero pieces are ZERO, others DATA. */
    static final int STATUS_PIECE = 4096;

    HeldReadsNode(String nodeName, byte[] initial) {
        super(nodeName, "test-held-reads", initial.clone());
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

    @Override
    public String filename() {
        return "held-reads:" + nodeName();
    }

    @Override
    protected void beforeRead() {
        reads.pass();
    }

    @Override
    protected void afterRead(long bytes) {
        bytesRead.addAndGet(bytes);
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
