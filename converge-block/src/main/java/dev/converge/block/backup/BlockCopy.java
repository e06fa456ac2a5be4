package dev.converge.block.backup;

import dev.converge.block.BlockChild;
import dev.converge.block.BlockIOException;
import dev.converge.block.Extent;
import dev.converge.block.ReqFlag;
import dev.converge.block.bitmap.DirtyBitmap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The copy state of one backup (QEMU's block/block-copy.c): which clusters of the source still
 * hold point-in-time data that the target lacks, and the one way they get there. Both the job's
 * background copies and the copy-before-write of a guest write use it, so each cluster is copied
 * exactly once, before anything overwrites it.
 *
 * <h2>Rules</h2>
 * <ul>
 * <li>{@link #toCopy} (cluster granularity, attached to no node, so writes never mark it) holds
 *     the clusters to copy; at the start: all of them (full, none), the allocated ones (top), or
 *     those of the user's bitmap (bitmap).</li>
 * <li>A copy <em>claims</em> its clusters: clears them in {@link #toCopy} and registers them in
 *     flight, under {@link #lock}; then reads the source and writes the target without the lock;
 *     a failure marks them to copy again. A claim never takes a cluster another copy has in
 *     flight.</li>
 * <li>{@link #copyBeforeWrite} returns only when no cluster of its range is to copy or in flight:
 *     it copies what is still to copy and waits for what others have in flight. The guest's
 *     write that follows can then only overwrite data the target already holds.</li>
 * </ul>
 * Threads: any (guest writers, the job's copy threads); {@link #lock} is never held across I/O.
 */
final class BlockCopy {
    /** A claimed range of clusters [first, lastExcl). */
    record Claim(long first, long lastExcl) {
    }

    private static final Set<ReqFlag> COMPRESSED = Set.of(ReqFlag.WRITE_COMPRESSED);

    private final BlockChild source;
    private final BlockChild target;
    private final long size;
    private final long cluster;
    private final int shift;
    private final boolean discardSource;
    /** Data goes to the target as compressed writes of whole clusters (blockdev-backup's compress). */
    private final boolean compress;
    /** Clusters still to copy. Set/reset with atomic bit operations; claims change it under {@link #lock}. */
    private final DirtyBitmap toCopy;
    /** Clusters whose point-in-time data is on the target: set once a copy of them succeeded. */
    private final DirtyBitmap onTarget;

    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled under {@link #lock} whenever a claim ends. */
    private final Condition released = lock.newCondition();
    /** The claims in flight. Guarded by {@link #lock}. */
    private final List<Claim> inFlight = new ArrayList<>();

    /** Bytes copied (data and zeroes), by any copy. */
    private final AtomicLong copied = new AtomicLong();
    /** Bytes read from the source and written to the target (zero ranges not counted). */
    private final AtomicLong dataBytes = new AtomicLong();
    /** Bytes copied by guest writes' copy-before-write. */
    private final AtomicLong cbwBytes = new AtomicLong();

    /**
     * @param source  the filter's edge to the source
     * @param target  the filter's edge to the target
     * @param cluster bytes per cluster, a power of two; with {@code compress} a multiple of the
     *                target's compressed-write unit
     */
    BlockCopy(BlockChild source, BlockChild target, long size, long cluster, boolean discardSource,
            boolean compress) {
        this.source = source;
        this.target = target;
        this.size = size;
        this.cluster = cluster;
        this.shift = Long.numberOfTrailingZeros(cluster);
        this.discardSource = discardSource;
        this.compress = compress;
        this.toCopy = new DirtyBitmap(null, cluster, size);
        this.onTarget = new DirtyBitmap(null, cluster, size);
    }

    long cluster() {
        return cluster;
    }

    long size() {
        return size;
    }

    /** The clusters still to copy (for the initial marking and for bitmap-mode always). */
    DirtyBitmap toCopy() {
        return toCopy;
    }

    /** Bytes still to copy. */
    long remaining() {
        return toCopy.dirtyBytes();
    }

    long copiedBytes() {
        return copied.get();
    }

    long dataBytes() {
        return dataBytes.get();
    }

    long cbwBytes() {
        return cbwBytes.get();
    }

    /** Whether nothing is to copy and nothing in flight: the target holds the whole point in time. */
    boolean done() {
        lock.lock();
        try {
            return inFlight.isEmpty() && toCopy.dirtyChunks() == 0;
        } finally {
            lock.unlock();
        }
    }


    // ---------------------------------------------------------------- claims

    /**
     * Claims up to {@code maxBytes} of consecutive clusters to copy, starting at the first one at
     * or after {@code from} that no other copy has in flight. Null when there is none after
     * {@code from}.
     */
    Claim claimNext(long from, long maxBytes) {
        long maxClusters = Math.max(1, maxBytes >>> shift);
        lock.lock();
        try {
            long pos = from;
            for (;;) {
                long d = toCopy.nextDirty(pos);
                if (d < 0) {
                    return null;
                }
                long c = d >>> shift;
                Claim busy = overlapping(c, c + 1);
                if (busy != null) {
                    pos = busy.lastExcl() << shift;
                    continue;
                }
                long end = c + 1;
                long limit = (size + cluster - 1) >>> shift;
                while (end < limit && end - c < maxClusters && toCopy.isDirty(end << shift, 1)
                        && overlapping(end, end + 1) == null) {
                    end++;
                }
                return claimLocked(c, end);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Whether some cluster is still to copy but every such cluster is in flight. */
    boolean onlyInFlightLeft() {
        lock.lock();
        try {
            return toCopy.dirtyChunks() > 0 && !inFlight.isEmpty();
        } finally {
            lock.unlock();
        }
    }

    /** Waits until some claim ends (or {@code nanos} passed). */
    void awaitRelease(long nanos) throws InterruptedException {
        lock.lock();
        try {
            if (!inFlight.isEmpty()) {
                released.awaitNanos(nanos);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Waits until nothing is in flight. */
    void awaitIdle() {
        lock.lock();
        try {
            while (!inFlight.isEmpty()) {
                released.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
    }

    private Claim claimLocked(long first, long lastExcl) {
        Claim c = new Claim(first, lastExcl);
        long off = first << shift;
        toCopy.resetDirty(off, Math.min(size, lastExcl << shift) - off);
        inFlight.add(c);
        return c;
    }

    private Claim overlapping(long first, long lastExcl) {
        for (Claim c : inFlight) {
            if (c.first() < lastExcl && first < c.lastExcl()) {
                return c;
            }
        }
        return null;
    }

    private void release(Claim c) {
        lock.lock();
        try {
            inFlight.remove(c);
            released.signalAll();
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- copying

    /** Where a copy failed: reading the source or writing the target. */
    static final class CopyException extends Exception {
        private static final long serialVersionUID = 1L;
        private final boolean read;

        CopyException(boolean read, BlockIOException cause) {
            super(cause.getMessage(), cause);
            this.read = read;
        }

        boolean read() {
            return read;
        }

        BlockIOException io() {
            return (BlockIOException) getCause();
        }
    }

    /**
     * Copies a data extent from the source's host file to the target's in the kernel
     * (copy_file_range), through the target's write path, where the target
     * {@linkplain dev.converge.block.BlockNode#writesFromHostFiles takes such copies} and the
     * source names a host file span; false, having done nothing, elsewhere (then it is read and
     * written). Errors count as the target's: the kernel does not say which side failed.
     */
    private boolean copyInKernel(Extent e) throws BlockIOException {
        if (!source.node().readsAsHostFile() || !target.node().writesFromHostFiles()) {
            return false;
        }
        return source.hostFileSpan(e.offset(), e.length(), span -> {
            target.writeFromHostFile(e.offset(), span, Set.of());
            return Boolean.TRUE;
        }).isPresent();
    }

    /**
     * Copies a claimed range and releases it; on failure its clusters are to copy again.
     *
     * @param byGuest whether a guest write's copy-before-write made it (accounting only)
     */
    void copy(Claim c, boolean byGuest) throws CopyException {
        long off = c.first() << shift;
        long len = Math.min(size, c.lastExcl() << shift) - off;
        boolean read = true;
        try {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = null;
                List<Extent> status = source.blockStatus(off, len);
                for (Extent e : compress ? clusterRuns(status, off, len, cluster) : status) {
                    if (e.isZero()) {
                        read = false;
                        // No MAY_UNMAP: a target with a backing file must read these as zeroes, not as its backing.
                        target.writeZeroes(e.offset(), e.length(), Set.of());
                    } else {
                        read = false; // a copy in the kernel's errors are the target's (see copyInKernel)
                        if (compress || !copyInKernel(e)) {
                            read = true;
                            if (buf == null) {
                                buf = arena.allocate(len, 4096);
                            }
                            MemorySegment slice = buf.asSlice(e.offset() - off, e.length());
                            source.read(e.offset(), slice);
                            read = false;
                            target.write(e.offset(), slice, compress ? COMPRESSED : Set.of());
                        }
                        dataBytes.addAndGet(e.length());
                    }
                    read = true;
                }
            }
            onTarget.setDirty(off, len);
            if (discardSource) {
                source.discard(off, len);
            }
            copied.addAndGet(len);
            if (byGuest) {
                cbwBytes.addAndGet(len);
            }
        } catch (BlockIOException e) {
            toCopy.setDirty(off, len);
            throw new CopyException(read, e);
        } catch (RuntimeException | Error e) {
            toCopy.setDirty(off, len);
            throw e;
        } finally {
            release(c);
        }
    }

    /**
     * The extents of [off, off + len) as runs of whole clusters (the last may end at {@code off +
     * len}): zero where every byte of a cluster reads as zeroes, data otherwise, as QEMU's
     * block-copy decides per cluster; compressed writes need whole clusters.
     */
    static List<Extent> clusterRuns(List<Extent> extents, long off, long len, long cluster) {
        List<Extent> runs = new ArrayList<>();
        long end = off + len;
        int i = 0;
        for (long c = off; c < end; c += cluster) {
            long cEnd = Math.min(end, c + cluster);
            while (i < extents.size() && extents.get(i).end() <= c) {
                i++;
            }
            boolean zero = true;
            for (int k = i; k < extents.size() && extents.get(k).offset() < cEnd; k++) {
                zero &= extents.get(k).isZero();
            }
            int flags = zero ? Extent.ZERO : Extent.DATA;
            Extent last = runs.isEmpty() ? null : runs.getLast();
            if (last != null && last.flags() == flags) {
                runs.set(runs.size() - 1, new Extent(last.offset(), cEnd - last.offset(), flags));
            } else {
                runs.add(new Extent(c, cEnd - c, flags));
            }
        }
        return runs;
    }

    /**
     * Reads the point-in-time image (QEMU's snapshot-access through copy-before-write): clusters
     * already copied come from the target, clusters still to copy from the source, while a claim
     * on the range keeps guest writes (their copy-before-write waits for it) and copies off it.
     *
     * @throws BlockIOException EACCES for a cluster that is neither copied nor to copy (outside
     *                          the bitmap of sync=bitmap, unallocated with sync=top), as QEMU
     */
    void snapshotRead(long offset, MemorySegment dst) throws BlockIOException {
        long len = dst.byteSize();
        if (len == 0) {
            return;
        }
        long first = offset >>> shift;
        long lastExcl = (offset + len - 1 >>> shift) + 1;
        Claim reader;
        lock.lock();
        try {
            while (overlapping(first, lastExcl) != null) {
                released.awaitUninterruptibly();
            }
            reader = new Claim(first, lastExcl);
            inFlight.add(reader);
        } finally {
            lock.unlock();
        }
        try {
            long pos = offset;
            long end = offset + len;
            while (pos < end) {
                long clusterEnd = Math.min(end, ((pos >>> shift) + 1) << shift);
                boolean copied = onTarget.isDirty(pos, 1);
                boolean pending = toCopy.isDirty(pos, 1);
                // extend over clusters in the same state
                while (clusterEnd < end && onTarget.isDirty(clusterEnd, 1) == copied
                        && toCopy.isDirty(clusterEnd, 1) == pending) {
                    clusterEnd = Math.min(end, clusterEnd + cluster);
                }
                MemorySegment part = dst.asSlice(pos - offset, clusterEnd - pos);
                if (copied) {
                    target.read(pos, part);
                } else if (pending) {
                    source.read(pos, part);
                } else {
                    throw new BlockIOException(dev.converge.block.Errno.EACCES, "snapshot-access: bytes at " + pos
                            + " are not part of the backup's point in time");
                }
                pos = clusterEnd;
            }
        } finally {
            release(reader);
        }
    }

    /**
     * Copy-before-write of [offset, offset + bytes): returns once every cluster of the range is
     * on the target, copying what is still to copy and waiting for copies in flight. A failure
     * leaves the failed clusters to copy and fails the guest's write (QEMU's default
     * on-cbw-error, break-guest-write).
     */
    void copyBeforeWrite(long offset, long bytes) throws BlockIOException {
        if (bytes <= 0 || offset >= size) {
            return;
        }
        long first = offset >>> shift;
        long lastExcl = (Math.min(size, offset + bytes) - 1 >>> shift) + 1;
        for (;;) {
            Claim mine = null;
            lock.lock();
            try {
                Claim busy = null;
                long c = first;
                while (c < lastExcl) {
                    long d = toCopy.nextDirty(c << shift);
                    long dc = d < 0 ? lastExcl : d >>> shift;
                    if (dc >= lastExcl) {
                        break;
                    }
                    busy = overlapping(dc, dc + 1);
                    if (busy != null) {
                        break;
                    }
                    long end = dc + 1;
                    while (end < lastExcl && toCopy.isDirty(end << shift, 1) && overlapping(end, end + 1) == null) {
                        end++;
                    }
                    mine = claimLocked(dc, end);
                    break;
                }
                if (mine == null && busy == null) {
                    // Nothing to copy: but a claim in flight may still overlap (its clusters are
                    // no longer marked); the guest must not overwrite what it is reading.
                    busy = overlapping(first, lastExcl);
                    if (busy == null) {
                        return;
                    }
                }
                if (mine == null) {
                    released.awaitUninterruptibly();
                    continue;
                }
            } finally {
                lock.unlock();
            }
            try {
                copy(mine, true);
            } catch (CopyException e) {
                throw e.io();
            }
        }
    }
}
