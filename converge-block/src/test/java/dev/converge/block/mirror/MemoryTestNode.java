package dev.converge.block.mirror;

import dev.converge.block.BlockNode;
import dev.converge.block.NodeOptions;
import java.lang.foreign.MemorySegment;

/**
 * A test node whose bytes live in a Java array, for the mirror tests' held nodes: the I/O they
 * share, with {@link #beforeRead}, {@link #afterRead} and {@link #beforeWrite} where a subclass
 * holds or counts. Discard is never called (discard=ignore, the default options); flush only
 * calls {@link #beforeFlush}. Block status is the subclass's.
 */
abstract class MemoryTestNode extends BlockNode {
    /** The node's bytes; every access synchronizes on it. */
    protected final byte[] data;

    MemoryTestNode(String nodeName, String driver, byte[] initial) {
        super(nodeName, driver, NodeOptions.DEFAULTS);
        this.data = initial;
    }

    /** A copy of the bytes now. */
    final byte[] contents() {
        synchronized (data) {
            return data.clone();
        }
    }

    /** Called before a read touches the bytes (outside the lock). */
    protected void beforeRead() {
    }

    /** Called after {@code bytes} were read. */
    protected void afterRead(long bytes) {
    }

    /** Called before a write or write-zeroes touches the bytes (outside the lock). */
    protected void beforeWrite() {
    }

    /** Called for every flush (the bytes are always durable: nothing else happens). */
    protected void beforeFlush() {
    }

    @Override
    public final long size() {
        return data.length;
    }

    @Override
    protected final void doRead(long offset, MemorySegment dst) {
        beforeRead();
        synchronized (data) {
            MemorySegment.copy(MemorySegment.ofArray(data), offset, dst, 0, dst.byteSize());
        }
        afterRead(dst.byteSize());
    }

    @Override
    protected final void doWrite(long offset, MemorySegment src, boolean fua) {
        beforeWrite();
        synchronized (data) {
            MemorySegment.copy(src, 0, MemorySegment.ofArray(data), offset, src.byteSize());
        }
    }

    @Override
    protected final void doWriteZeroes(long offset, long bytes, boolean mayUnmap, boolean noFallback) {
        beforeWrite();
        synchronized (data) {
            MemorySegment.ofArray(data).asSlice(offset, bytes).fill((byte) 0);
        }
    }

    @Override
    protected final void doDiscard(long offset, long bytes) {
        // discard=ignore (the default options): never called
    }

    @Override
    protected final void doFlush() {
        beforeFlush();
    }
}
