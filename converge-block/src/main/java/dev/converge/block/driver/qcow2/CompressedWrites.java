package dev.converge.block.driver.qcow2;

import dev.converge.block.BlockChild;
import dev.converge.block.BlockIOException;
import dev.converge.block.Errno;
import java.lang.foreign.MemorySegment;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Compressed cluster writes of a qcow2 node (qcow2.txt, "Compressed Clusters Descriptor"), as
 * jobs with {@code compress} make them (QEMU's BDRV_REQ_WRITE_COMPRESSED).
 *
 * <h2>QEMU's rules</h2>
 * <ul>
 * <li>The request starts on a cluster boundary and covers whole clusters (the last one may end
 *     at the end of the disk); otherwise EINVAL. Each cluster is compressed on its own (the
 *     disk's tail padded with zeroes).</li>
 * <li>A compressed write never overwrites: a cluster that has a host cluster (data, compressed
 *     data or a preallocated zero cluster) fails the request with EIO. Unallocated and zero
 *     clusters without host data take it.</li>
 * <li>A cluster whose deflate stream would not be shorter than the cluster is written as a
 *     normal cluster instead.</li>
 * </ul>
 *
 * <h2>Space</h2>
 * Compressed streams are packed byte after byte into a host cluster shared by several of them
 * (QEMU's free_byte_offset): every compressed cluster adds one reference to each host cluster
 * its sectors touch (the descriptor rounds its end up to a 512-byte sector, and so does
 * {@code qemu-img check} when it counts references; a stream here never crosses into the next
 * host cluster, so that is one). A stream that does not fit in the rest of the current host
 * cluster, or a host cluster whose refcount is at its maximum, starts a fresh one. When the
 * refcount of the cluster being filled drops to zero (every compressed cluster in it was
 * overwritten or discarded), it is forgotten: {@link #freed}, called by {@link Refcounts}.
 *
 * <h2>Order and threads</h2>
 * Deflate runs on the caller's thread without any lock (jobs compress on several copy threads
 * at once); the allocation, the data write and the L2 entry are made under the node's metadata
 * lock, in the crash-safe order of every allocation: refcount raised, data written, entry set
 * (the L2 cache writes nothing before the refcount cache).
 */
final class CompressedWrites {
    /** What the writer needs of its node. */
    interface Node {
        /** Fails unless the node may be written (open, not corrupt). */
        void checkWritable() throws BlockIOException;

        /** The virtual disk size. */
        long size();

        /** The L2 entry of the guest cluster at {@code off}, its table created when missing. Under the metadata lock. */
        long entry(long off) throws BlockIOException;

        /** Sets the L2 entry of the guest cluster at {@code off} (subcluster bitmap 0). Under the metadata lock. */
        void setEntry(long off, long entry) throws BlockIOException;

        /** A normal write of one cluster (its data did not shrink). Not under the metadata lock. */
        void writePlain(long off, MemorySegment src) throws BlockIOException;

        /** Flushes the node (a FUA request). */
        void flush() throws BlockIOException;
    }

    private final Node node;
    private final BlockChild file;
    /** The node's metadata lock. */
    private final ReentrantLock meta;
    /** Guarded by {@link #meta}. */
    private final Refcounts refcounts;
    private final int clusterBits;
    private final long clusterSize;
    /** Deflaters and input buffers not in use; any thread. */
    private final ConcurrentLinkedQueue<Tools> idle = new ConcurrentLinkedQueue<>();
    /** The host byte where the next stream may go, 0 for "start a fresh cluster". Guarded by {@link #meta}. */
    private long nextByte;

    private record Tools(ClusterDeflate deflate, byte[] in) {
    }

    CompressedWrites(Node node, BlockChild file, ReentrantLock meta, Refcounts refcounts, int clusterBits) {
        this.node = node;
        this.file = file;
        this.meta = meta;
        this.refcounts = refcounts;
        this.clusterBits = clusterBits;
        this.clusterSize = 1L << clusterBits;
    }

    /** Writes {@code src} at guest {@code offset}, cluster by cluster, compressed where it shrinks. */
    void write(long offset, MemorySegment src, boolean fua) throws BlockIOException {
        node.checkWritable();
        long len = src.byteSize();
        long size = node.size();
        if ((offset & (clusterSize - 1)) != 0 || ((len & (clusterSize - 1)) != 0 && offset + len != size)) {
            throw new BlockIOException(Errno.EINVAL, "compressed writes must start on a cluster boundary and cover "
                    + "whole clusters of " + clusterSize + " bytes (or end at the end of the disk): " + len
                    + " bytes at " + offset);
        }
        Tools tools = idle.poll();
        if (tools == null) {
            tools = new Tools(new ClusterDeflate(), new byte[(int) clusterSize]);
        }
        try {
            for (long pos = 0; pos < len; pos += clusterSize) {
                MemorySegment cluster = src.asSlice(pos, Math.min(clusterSize, len - pos));
                writeCluster(offset + pos, cluster, tools);
            }
        } finally {
            idle.add(tools);
        }
        if (fua) {
            node.flush();
        }
    }

    private void writeCluster(long off, MemorySegment cluster, Tools tools) throws BlockIOException {
        byte[] in = tools.in();
        int n = (int) cluster.byteSize();
        MemorySegment.copy(cluster, 0, MemorySegment.ofArray(in), 0, n);
        java.util.Arrays.fill(in, n, in.length, (byte) 0); // the disk's tail: QEMU pads it
        // QEMU stores it compressed when the stream takes at most cluster_size - 1 bytes
        int clen = tools.deflate().deflate(in, in.length, (int) clusterSize - 1);
        if (clen < 0) {
            node.writePlain(off, cluster);
            return;
        }
        MemorySegment stream = MemorySegment.ofArray(tools.deflate().output()).asSlice(0, clen);
        meta.lock();
        try {
            long entry = node.entry(off);
            if (L2Entry.compressed(entry) || L2Entry.hostOffset(entry) != 0) {
                throw new BlockIOException(Errno.EIO, "compressed write of guest cluster at " + off
                        + ": the cluster is already allocated (a compressed write cannot overwrite)");
            }
            long host = allocateBytes(clen);
            file.write(host, stream, Set.of());
            node.setEntry(off, L2Entry.compressedEntry(host, clen, clusterBits));
        } finally {
            meta.unlock();
        }
    }

    /**
     * Space for {@code len} bytes (at most a cluster minus one), with the references taken.
     * Under the metadata lock.
     */
    private long allocateBytes(int len) throws BlockIOException {
        long at = nextByte;
        if (at != 0) {
            long clusterStart = at & ~(clusterSize - 1);
            boolean fits = at + len <= clusterStart + clusterSize;
            if (fits && refcounts.get(clusterStart) < refcounts.maxRefcount()) {
                refcounts.update(clusterStart, 1, 1);
            } else {
                at = 0;
            }
        }
        if (at == 0) {
            at = refcounts.allocate(1);
        }
        long next = at + len;
        nextByte = (next & (clusterSize - 1)) == 0 ? 0 : next;
        return at;
    }

    /** The refcount of the host cluster at {@code offset} dropped to zero. Under the metadata lock. */
    void freed(long offset) {
        if (nextByte != 0 && (offset >>> clusterBits) == (nextByte >>> clusterBits)) {
            nextByte = 0;
        }
    }

    /** Frees the deflaters' native state (the node is closing). */
    void close() {
        Tools t;
        while ((t = idle.poll()) != null) {
            t.deflate().end();
        }
    }
}
