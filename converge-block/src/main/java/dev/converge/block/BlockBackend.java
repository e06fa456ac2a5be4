package dev.converge.block;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A user of a node (QEMU's BlockBackend): an NBD export, a machine's disk, a job's writer.
 * Its requests go through one edge ({@link #root()}) that {@link BlockGraph#replaceNode} can
 * point at another node; requests made afterwards, and requests that were waiting in the old
 * node's drained entrance, run on the new node.
 * <p>
 * Made and removed by {@link BlockGraph#attachBackend} and {@link BlockGraph#detachBackend}.
 */
public final class BlockBackend {
    private final String name;
    private final BlockChild root;

    BlockBackend(String name, BlockNode node) {
        this.name = name;
        this.root = new BlockChild("root", null, this, node);
    }

    /** The device name shown by query-block, or null for an anonymous user. */
    public String name() {
        return name;
    }

    /** The edge to the node in use. */
    public BlockChild root() {
        return root;
    }

    /** The node in use now. */
    public BlockNode node() {
        return root.node();
    }

    public long size() throws BlockIOException {
        return root.node().size();
    }

    public void read(long offset, MemorySegment dst) throws BlockIOException {
        root.read(offset, dst);
    }

    /**
     * The host file range [offset, offset + bytes) of the node in use reads as, for a zero-copy send,
     * or empty: read then (see {@link BlockNode#hostFileRange}). The caller closes the range.
     */
    public Optional<HostFileRange> hostFileRange(long offset, long bytes) throws BlockIOException {
        return root.hostFileRange(offset, bytes);
    }

    /** The node's {@link BlockNode#writeFromHostFile}: a copy in the kernel where the node {@link BlockNode#writesFromHostFiles}. */
    public void writeFromHostFile(long offset, HostFileSpan src, Set<ReqFlag> flags) throws BlockIOException {
        root.writeFromHostFile(offset, src, flags);
    }

    public void write(long offset, MemorySegment src, Set<ReqFlag> flags) throws BlockIOException {
        root.write(offset, src, flags);
    }

    public void writeZeroes(long offset, long bytes, Set<ReqFlag> flags) throws BlockIOException {
        root.writeZeroes(offset, bytes, flags);
    }

    public void discard(long offset, long bytes) throws BlockIOException {
        root.discard(offset, bytes);
    }

    public void flush() throws BlockIOException {
        root.flush();
    }

    public List<Extent> blockStatus(long offset, long bytes) throws BlockIOException {
        return root.blockStatus(offset, bytes);
    }

    @Override
    public String toString() {
        return "backend " + (name == null ? "(anonymous)" : name) + " on " + node().nodeName();
    }
}
