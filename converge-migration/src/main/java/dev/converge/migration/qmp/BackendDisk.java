package dev.converge.migration.qmp;

import dev.converge.block.BlockBackend;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.migration.machine.MachineDisk;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Set;

/**
 * A machine's disk on a block node: a {@link BlockBackend} named after the machine's disk, so
 * every guest write takes the node's write path (write notifiers, dirty bitmaps, a mirror).
 * Attached and detached on the main loop; I/O from any thread.
 */
final class BackendDisk implements MachineDisk {
    private static final int DIGEST_CHUNK = 1 << 20;

    private final BlockGraph graph;
    private final BlockBackend backend;
    private final String nodeName;
    private final long size;

    private BackendDisk(BlockGraph graph, BlockBackend backend, String nodeName, long size) {
        this.graph = graph;
        this.backend = backend;
        this.nodeName = nodeName;
        this.size = size;
    }

    /**
     * Looks the node up and attaches a backend called {@code backendName}. Main loop.
     *
     * @throws dev.converge.qmp.QmpException when the node does not exist (QEMU's lookup text)
     */
    static BackendDisk attach(BlockGraph graph, String node, String backendName) throws BlockIOException {
        BlockNode n = graph.lookup(node);
        long size = n.size();
        BlockBackend b = graph.attachBackend(backendName, n);
        return new BackendDisk(graph, b, n.nodeName(), size);
    }

    @Override
    public String nodeName() {
        return nodeName;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void write(long offset, ByteBuffer data) throws IOException {
        backend.write(offset, MemorySegment.ofBuffer(data), Set.of());
    }

    @Override
    public String digest() throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
        byte[] chunk = new byte[DIGEST_CHUNK];
        for (long off = 0; off < size; off += DIGEST_CHUNK) {
            int n = (int) Math.min(DIGEST_CHUNK, size - off);
            backend.read(off, MemorySegment.ofArray(chunk).asSlice(0, n));
            md.update(chunk, 0, n);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** Ends the backend's use of the node. Main loop. */
    void detach() {
        graph.detachBackend(backend);
    }
}
