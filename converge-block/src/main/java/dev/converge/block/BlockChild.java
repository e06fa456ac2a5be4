package dev.converge.block;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * An edge of the block graph: a parent (a node, or a {@link BlockBackend}) uses a child node in a
 * role ("file", "image", "root"). Requests sent through an edge follow it when the child is
 * replaced ({@link BlockGraph#replaceNode}): a request that waited in a drained node's entrance
 * while the edge was switched is retried on the new node, so no request runs on a node that was
 * replaced before the request got in.
 */
public final class BlockChild {
    private final String role;
    /** The parent node, or null when the parent is a backend. Final. */
    private final BlockNode parentNode;
    /** The backend using the node, or null when the parent is a node. Final. */
    private final BlockBackend parentBackend;
    /** The child. Volatile: read by I/O on any thread, written on the main loop only. */
    private volatile BlockNode node;
    /**
     * Writes through this edge may extend a child that can grow (a format driver such as qcow2
     * appends clusters to its file, as QEMU's protocol nodes allow). Final.
     */
    private final boolean mayGrow;

    BlockChild(String role, BlockNode parentNode, BlockBackend parentBackend, BlockNode node) {
        this(role, parentNode, parentBackend, node, false);
    }

    BlockChild(String role, BlockNode parentNode, BlockBackend parentBackend, BlockNode node, boolean mayGrow) {
        this.mayGrow = mayGrow;
        this.role = Objects.requireNonNull(role);
        this.parentNode = parentNode;
        this.parentBackend = parentBackend;
        this.node = Objects.requireNonNull(node);
        node.addParent(this);
    }

    public String role() {
        return role;
    }

    /** Whether writes through this edge may extend the child past its end. */
    public boolean mayGrow() {
        return mayGrow;
    }

    /** The node this edge points at now. */
    public BlockNode node() {
        return node;
    }

    /** The parent node, or null when a backend holds this edge. */
    public BlockNode parentNode() {
        return parentNode;
    }

    /** The backend holding this edge, or null when a node does. */
    public BlockBackend parentBackend() {
        return parentBackend;
    }

    /** Points the edge at {@code to}; main loop only, with both nodes drained for atomicity. */
    void switchTo(BlockNode to) {
        BlockNode from = node;
        if (from == to) {
            return;
        }
        to.addParent(this);
        node = to;
        from.removeParent(this);
    }

    /** Removes the edge from its child's parent list; main loop only. */
    void detach() {
        node.removeParent(this);
    }

    public void read(long offset, MemorySegment dst) throws BlockIOException {
        while (!node.read(this, offset, dst)) {
            // the child was replaced while we waited: retry on the new one
        }
    }

    /** The host file range the child's [offset, offset + bytes) reads as, if it can say (see {@link BlockNode#hostFileRange}). */
    public Optional<HostFileRange> hostFileRange(long offset, long bytes) throws BlockIOException {
        for (;;) {
            Optional<HostFileRange> r = node.hostFileRange(this, offset, bytes);
            if (r != null) {
                return r;
            }
        }
    }

    /** The child's {@link BlockNode#hostFileSpan}, through this edge. */
    public <T> Optional<T> hostFileSpan(long offset, long bytes, HostFileSpan.Use<T> use) throws BlockIOException {
        for (;;) {
            Optional<T> r = node.hostFileSpan(this, offset, bytes, use);
            if (r != null) {
                return r;
            }
        }
    }

    /** The child's {@link BlockNode#writeFromHostFile}, through this edge. */
    public void writeFromHostFile(long offset, HostFileSpan src, Set<ReqFlag> flags) throws BlockIOException {
        while (!node.writeFromHostFile(this, offset, src, flags)) {
            // retry on the replacement
        }
    }

    public void write(long offset, MemorySegment src, Set<ReqFlag> flags) throws BlockIOException {
        while (!node.write(this, offset, src, flags)) {
            // retry on the replacement
        }
    }

    public void writeZeroes(long offset, long bytes, Set<ReqFlag> flags) throws BlockIOException {
        while (!node.writeZeroes(this, offset, bytes, flags)) {
            // retry on the replacement
        }
    }

    public void discard(long offset, long bytes) throws BlockIOException {
        while (!node.discard(this, offset, bytes)) {
            // retry on the replacement
        }
    }

    public void flush() throws BlockIOException {
        while (!node.flush(this)) {
            // retry on the replacement
        }
    }

    public List<Extent> blockStatus(long offset, long bytes) throws BlockIOException {
        for (;;) {
            List<Extent> r = node.blockStatus(this, offset, bytes);
            if (r != null) {
                return r;
            }
        }
    }

    @Override
    public String toString() {
        String parent = parentNode != null ? parentNode.nodeName() : "backend " + parentBackend.name();
        return parent + " -" + role + "-> " + node.nodeName();
    }
}
