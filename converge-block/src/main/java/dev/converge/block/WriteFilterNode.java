package dev.converge.block;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * A filter a job puts above a node for its life, so that every user of the node writes through
 * it (QEMU's mirror_top and copy-before-write): reads, flushes and block status pass straight to
 * the child; every write-type request (write, write-zeroes, discard) goes to {@link #intercept}
 * with the child's write as a callback, which the job runs when it may (after copying the old
 * data away, or apart from its own copies of the same range).
 * <p>
 * Its {@code discard=unmap} only passes discards on: the child applies its own option.
 */
public abstract class WriteFilterNode extends BlockNode {
    /** The child's part of an intercepted request. */
    @FunctionalInterface
    public interface ChildWrite {
        void run() throws BlockIOException;
    }

    private final BlockChild child;

    /** @param role the child's role: {@code file} (copy-before-write) or {@code backing} (mirror_top), as QEMU's */
    protected WriteFilterNode(String nodeName, String driverName, String role, BlockNode child) {
        super(nodeName, driverName, NodeOptions.DEFAULTS.withDiscardUnmap(true));
        this.child = addChild(role, child);
    }

    /** The filtered node's edge. */
    protected final BlockChild childEdge() {
        return child;
    }

    /** The node below. */
    public final BlockNode source() {
        return child.node();
    }

    /**
     * Runs one write-type request of a user: must run {@code childWrite} once (or fail).
     *
     * @param data the bytes of a WRITE, null for the other kinds
     */
    protected abstract void intercept(WriteRequest.Kind kind, long offset, long bytes, MemorySegment data,
            Set<ReqFlag> flags, ChildWrite childWrite) throws BlockIOException;

    @Override
    public final long size() throws BlockIOException {
        return child.node().size();
    }

    @Override
    public final String filename() {
        return child.node().filename();
    }

    @Override
    public final OptionalLong actualSize() {
        return child.node().actualSize();
    }

    @Override
    protected final void doRead(long offset, MemorySegment dst) throws BlockIOException {
        child.read(offset, dst);
    }

    /** As the child: reads pass through unchanged. */
    @Override
    public final boolean readsAsHostFile() {
        return child.node().readsAsHostFile();
    }

    /** Reads pass through unchanged, so the child's host file span is this node's. */
    @Override
    protected final <T> Optional<T> doHostFileSpan(long offset, long bytes, HostFileSpan.Use<T> use)
            throws BlockIOException {
        return child.hostFileSpan(offset, bytes, use);
    }

    @Override
    protected final void doWrite(long offset, MemorySegment src, boolean fua) throws BlockIOException {
        Set<ReqFlag> flags = fua ? Set.of(ReqFlag.FUA) : Set.of();
        intercept(WriteRequest.Kind.WRITE, offset, src.byteSize(), src, flags, () -> child.write(offset, src, flags));
    }

    @Override
    protected final void doWriteZeroes(long offset, long bytes, boolean mayUnmap, boolean noFallback)
            throws BlockIOException {
        Set<ReqFlag> flags = ReqFlag.writeZeroes(mayUnmap, noFallback);
        intercept(WriteRequest.Kind.WRITE_ZEROES, offset, bytes, null, flags,
                () -> child.writeZeroes(offset, bytes, flags));
    }

    @Override
    protected final void doDiscard(long offset, long bytes) throws BlockIOException {
        intercept(WriteRequest.Kind.DISCARD, offset, bytes, null, Set.of(), () -> child.discard(offset, bytes));
    }

    @Override
    protected final void doFlush() throws BlockIOException {
        child.flush();
    }

    @Override
    protected final List<Extent> doBlockStatus(long offset, long bytes) throws BlockIOException {
        return child.blockStatus(offset, bytes);
    }
}
