package dev.converge.block;

import dev.converge.block.bitmap.BitmapException;
import dev.converge.block.bitmap.BitmapStorage;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.block.bitmap.NodeBitmaps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A node of the block graph (QEMU's BlockDriverState): a driver over storage or over child nodes.
 *
 * <h2>The write path</h2>
 * Every writer of a node (a backend, a parent node, a job, a test) goes through the final
 * methods {@link #write}, {@link #writeZeroes} and {@link #discard}, which do, in this order:
 * <ol>
 * <li>check the request (range, read-only), changing nothing when it is refused;</li>
 * <li>admit it: count it in flight, waiting first while the node is drained;</li>
 * <li>call every before-write notifier (they may block, or fail the request);</li>
 * <li>run the driver's operation;</li>
 * <li>mark every enabled dirty bitmap of the node, also when the driver failed (a failed write
 *     may have changed part of the range: the range must be copied again, never skipped);</li>
 * <li>end the in-flight count.</li>
 * </ol>
 * No lock is taken on this path: in-flight counts are atomic, notifier and bitmap lists are
 * copy-on-write, bitmaps are set with atomic operations.
 *
 * <h2>Threads</h2>
 * I/O may be called on any thread and blocks that thread. Graph state (children, parents,
 * bitmaps added or removed, notifiers) changes on the main loop only; the lists are safe to read
 * from I/O threads. A node is {@linkplain #close closed} by the graph when it leaves it.
 */
public abstract class BlockNode {
    private final String nodeName;
    private final String driverName;
    /** The node's options; replaced on the main loop by {@link #reopen} (read-only), read anywhere. */
    private volatile NodeOptions options;
    /**
     * Children in role order; added while the subclass constructor runs, and replaced on the
     * main loop by {@link #replaceChild} (a new backing node). Copy-on-write: read anywhere.
     */
    private final List<BlockChild> children = new CopyOnWriteArrayList<>();
    /** Per-node I/O counters (query-blockstats, the metrics endpoint); lock-free. */
    private final IoStats stats = new IoStats();
    /** Edges pointing at this node (its users). Mutated on the main loop; read anywhere. */
    private final Set<BlockChild> parents = ConcurrentHashMap.newKeySet();
    /** Bitmaps, in creation order; read by every write without a lock. */
    private final NodeBitmaps bitmaps = new NodeBitmaps();
    /** Before-write notifiers. Copy-on-write: read by every write without a lock. */
    private final List<BeforeWriteNotifier> notifiers = new CopyOnWriteArrayList<>();
    private final IoGate gate = new IoGate();

    protected BlockNode(String nodeName, String driverName, NodeOptions options) {
        this.nodeName = Objects.requireNonNull(nodeName);
        this.driverName = Objects.requireNonNull(driverName);
        this.options = Objects.requireNonNull(options);
    }

    /** Adds a child edge; for subclass constructors. */
    protected final BlockChild addChild(String role, BlockNode child) {
        return addChild(role, child, false);
    }

    /**
     * Adds a child edge; with {@code mayGrow}, writes through it may extend a child that
     * {@linkplain #growsOnWrite grows} (a format driver's file). For subclass constructors.
     */
    protected final BlockChild addChild(String role, BlockNode child, boolean mayGrow) {
        BlockChild c = new BlockChild(role, this, null, child, mayGrow);
        children.add(c);
        return c;
    }

    /**
     * Replaces the child edge in {@code role} with one to {@code child} (none when null),
     * keeping the role's place among the children; returns the new edge, or null. Main loop,
     * inside a drained section of this node (the driver's I/O must not use the old edge
     * meanwhile); the old child stays in the graph: the graph removes it when unused.
     */
    protected final BlockChild replaceChild(String role, BlockNode child) {
        int at = -1;
        for (int i = 0; i < children.size(); i++) {
            if (children.get(i).role().equals(role)) {
                at = i;
                break;
            }
        }
        BlockChild edge = child == null ? null : new BlockChild(role, this, null, child, false);
        if (at >= 0) {
            BlockChild old = children.get(at);
            if (edge == null) {
                children.remove(at);
            } else {
                children.set(at, edge);
            }
            old.detach();
        } else if (edge != null) {
            children.add(edge);
        }
        return edge;
    }

    /**
     * Whether writes past the end extend this node (a host file, as QEMU's file-posix) when
     * they come through an edge that {@linkplain BlockChild#mayGrow may grow} it. Other writers
     * still get ENOSPC past the end.
     */
    protected boolean growsOnWrite() {
        return false;
    }

    // ---------------------------------------------------------------- identity and graph

    public final String nodeName() {
        return nodeName;
    }

    /** The driver name as in blockdev-add ("file", "raw", ...). */
    public final String driverName() {
        return driverName;
    }

    public final NodeOptions options() {
        return options;
    }

    public final boolean readOnly() {
        return options.readOnly();
    }

    /** The child edges of this node, in the order the driver added them. */
    public final List<BlockChild> children() {
        return Collections.unmodifiableList(children);
    }

    /** The child in {@code role}, if any. */
    public final Optional<BlockChild> child(String role) {
        return children.stream().filter(c -> c.role().equals(role)).findFirst();
    }

    /** The node this one reads through for what it does not hold itself (QEMU's backing), if any. */
    public final Optional<BlockNode> backing() {
        return child("backing").map(BlockChild::node);
    }

    /** The I/O counters of this node (every request of its one request path). */
    public final IoStats stats() {
        return stats;
    }

    /** The edges that point at this node now: its parent nodes and backends. */
    public final List<BlockChild> parents() {
        return List.copyOf(parents);
    }

    final void addParent(BlockChild edge) {
        parents.add(edge);
    }

    final void removeParent(BlockChild edge) {
        parents.remove(edge);
    }

    /** Size in bytes. */
    public abstract long size() throws BlockIOException;

    /** The name query-named-block-nodes shows as {@code file} and {@code image.filename}. */
    public abstract String filename();

    /** Bytes the node's storage takes on the host, if known (image.actual-size). */
    public OptionalLong actualSize() {
        return OptionalLong.empty();
    }

    /**
     * Whether a write to this node ends as a buffered write into a host file (through the page
     * cache, under that file's inode lock): then parallel writers gain nothing but queue on the
     * lock, so a job copying into this node writes one chunk at a time and a guest's write is never
     * queued behind a crowd of copies. A format or protocol filter over a {@code file} child asks
     * the child; a {@code file} node answers for itself (true without cache.direct).
     */
    public boolean writesIntoHostPageCache() {
        return child("file").map(c -> c.node().writesIntoHostPageCache()).orElse(false);
    }

    // ---------------------------------------------------------------- public I/O

    /** Reads {@code dst.byteSize()} bytes at {@code offset} into {@code dst}. */
    public final void read(long offset, MemorySegment dst) throws BlockIOException {
        read(null, offset, dst);
    }

    /** Reads into {@code dst}'s remaining bytes (position to limit); the position does not move. */
    public final void read(long offset, ByteBuffer dst) throws BlockIOException {
        read(null, offset, MemorySegment.ofBuffer(dst));
    }

    /** Writes all of {@code src} at {@code offset}. */
    public final void write(long offset, MemorySegment src, Set<ReqFlag> flags) throws BlockIOException {
        write(null, offset, src, flags);
    }

    /** Writes all of {@code src} at {@code offset}, no flags. */
    public final void write(long offset, MemorySegment src) throws BlockIOException {
        write(null, offset, src, Set.of());
    }

    /** Writes {@code src}'s remaining bytes (position to limit); the position does not move. */
    public final void write(long offset, ByteBuffer src, Set<ReqFlag> flags) throws BlockIOException {
        write(null, offset, MemorySegment.ofBuffer(src), flags);
    }

    /** Makes [offset, offset + bytes) read as zeroes (flags FUA, MAY_UNMAP, NO_FALLBACK). */
    public final void writeZeroes(long offset, long bytes, Set<ReqFlag> flags) throws BlockIOException {
        writeZeroes(null, offset, bytes, flags);
    }

    /**
     * Tells the node the range is no longer needed; it may read back as anything afterwards.
     * Does nothing unless the node has discard=unmap (as QEMU).
     */
    public final void discard(long offset, long bytes) throws BlockIOException {
        discard(null, offset, bytes);
    }

    /** Makes completed writes durable. Does nothing with cache.no-flush. */
    public final void flush() throws BlockIOException {
        flush(null);
    }

    /**
     * The allocation status of [offset, offset + bytes): extents in order, adjacent ones with
     * equal flags merged, covering the whole range.
     */
    public final List<Extent> blockStatus(long offset, long bytes) throws BlockIOException {
        return blockStatus(null, offset, bytes);
    }

    /**
     * The parts of [offset, offset + bytes) this node holds itself (QEMU's bdrv_is_allocated), in
     * order, merged, flagged {@link Extent#ALLOCATED}: unlike {@link #blockStatus}, a node with a
     * backing chain does not ask the chain about the rest. Any thread.
     */
    public final List<Extent> allocatedHere(long offset, long bytes) throws BlockIOException {
        checkRange("block-status", offset, bytes, Errno.EINVAL);
        gate.enter(null, this); // a direct request: always admitted (after a drain)
        try {
            return bytes == 0 ? List.of() : merge(doAllocatedHere(offset, bytes));
        } finally {
            gate.exit();
        }
    }

    /**
     * The host file range that [offset, offset + bytes) of this node reads as, unchanged, for a
     * reader that can send a file's bytes without reading them (sendfile); empty when the node cannot
     * say: a format, a filter that changes or checks data, O_DIRECT, another protocol. Then read as
     * usual. The request is checked and admitted like a read (it waits while the node is drained,
     * and follows an edge that was switched meanwhile), but ends once the range is found: the
     * transfer runs outside the node's gate (see {@link HostFileRange}). Counted as a read in the
     * node's statistics, its time being the lookup's. The caller closes the range.
     */
    public final Optional<HostFileRange> hostFileRange(long offset, long bytes) throws BlockIOException {
        return hostFileRange(null, offset, bytes);
    }

    /**
     * Runs {@code use} with the host file span [offset, offset + bytes) of this node reads as,
     * unchanged, while the request is admitted here and on every node down to the file (so the
     * file's descriptor stays valid and no drain of these nodes passes it); returns what it returned,
     * or empty without calling it when the node cannot say (the same nodes as {@link #hostFileRange}).
     * Counted as a read in the node's statistics when {@code use} returned something, its time
     * being the whole call's. For a copy in the kernel: see {@link #writeFromHostFile}.
     */
    public final <T> Optional<T> hostFileSpan(long offset, long bytes, HostFileSpan.Use<T> use)
            throws BlockIOException {
        return hostFileSpan(null, offset, bytes, use);
    }

    /**
     * Whether {@link #hostFileSpan} names spans on this node: a {@code file} node without
     * cache.direct, or a driver that maps its bytes one to one onto such a child ({@code raw}, a
     * job's write filter). A property of the drivers, so a copier asks once when it chooses how to
     * copy (with {@link #writesFromHostFiles} on the other side).
     */
    public boolean readsAsHostFile() {
        return false;
    }

    /**
     * Whether {@link #writeFromHostFile} copies in the kernel here ({@code copy_file_range(2)}): a
     * {@code file} node written through the page cache (not cache.direct) whose filesystem has not
     * refused a copy yet, or a driver that maps its bytes one to one onto such a child ({@code raw}).
     * Elsewhere writeFromHostFile still works, reading the span into memory and writing it: a copier
     * asks here first and keeps its own buffered path for such nodes.
     */
    public boolean writesFromHostFiles() {
        return false;
    }

    /**
     * Writes [offset, offset + src.length()) with the bytes of a host file span (got from another
     * node's {@link #hostFileSpan}, inside whose use this runs): the node's one write path as
     * {@link #write}, the before-write notifiers (seeing a {@link WriteRequest.Kind#WRITE} whose
     * {@code data} is null), the driver (a copy in the kernel where {@link #writesFromHostFiles},
     * else read and written), the dirty bitmaps and the statistics (a write). Flags: FUA.
     */
    public final void writeFromHostFile(long offset, HostFileSpan src, Set<ReqFlag> flags) throws BlockIOException {
        writeFromHostFile(null, offset, src, flags);
    }

    // ---------------------------------------------------------------- the request path

    final boolean read(BlockChild via, long offset, MemorySegment dst) throws BlockIOException {
        long len = dst.byteSize();
        try {
            checkRange("read", offset, len, Errno.EINVAL);
        } catch (BlockIOException e) {
            stats.invalid(IoStats.Kind.READ);
            throw e;
        }
        if (!gate.enter(via, this)) {
            return false;
        }
        long start = System.nanoTime();
        boolean ok = false;
        try {
            if (len > 0) {
                doRead(offset, dst);
            }
            ok = true;
        } finally {
            gate.exit();
            stats.account(IoStats.Kind.READ, len, start, ok);
        }
        return true;
    }

    /** {@link #hostFileRange(long, long)} through {@code via}; null when the edge moved to another node meanwhile. */
    final Optional<HostFileRange> hostFileRange(BlockChild via, long offset, long bytes) throws BlockIOException {
        return hostFileSpan(via, offset, bytes, span -> span.lease().orElse(null));
    }

    /** {@link #hostFileSpan(long, long, HostFileSpan.Use)} through {@code via}; null when the edge moved to another node meanwhile. */
    final <T> Optional<T> hostFileSpan(BlockChild via, long offset, long bytes, HostFileSpan.Use<T> use)
            throws BlockIOException {
        try {
            checkRange("read", offset, bytes, Errno.EINVAL);
        } catch (BlockIOException e) {
            stats.invalid(IoStats.Kind.READ);
            throw e;
        }
        if (!gate.enter(via, this)) {
            return null;
        }
        long start = System.nanoTime();
        Optional<T> result = Optional.empty();
        try {
            result = bytes > 0 ? doHostFileSpan(offset, bytes, use) : Optional.empty();
        } finally {
            gate.exit();
            if (result.isPresent()) {
                stats.account(IoStats.Kind.READ, bytes, start, true);
            }
        }
        return result;
    }

    final boolean writeFromHostFile(BlockChild via, long offset, HostFileSpan src, Set<ReqFlag> flags)
            throws BlockIOException {
        return writeData(via, offset, src.length(), null, flags, fua -> doWriteFromHostFile(offset, src, fua));
    }

    final boolean write(BlockChild via, long offset, MemorySegment src, Set<ReqFlag> flags)
            throws BlockIOException {
        return writeData(via, offset, src.byteSize(), src, flags, fua -> {
            if (flags.contains(ReqFlag.WRITE_COMPRESSED)) {
                doWriteCompressed(offset, src, fua);
            } else {
                doWrite(offset, src, fua);
            }
        });
    }

    /** The driver's part of a data write: a buffer's bytes or a host file span's; with {@code fua}, durably. */
    @FunctionalInterface
    private interface DriverWrite {
        void run(boolean fua) throws BlockIOException;
    }

    /** The write path of a data write (see the class comment); {@code data} is what notifiers see (null: a span). */
    private boolean writeData(BlockChild via, long offset, long len, MemorySegment data, Set<ReqFlag> flags,
            DriverWrite driver) throws BlockIOException {
        checkWritable("write", offset, len, growing(via), IoStats.Kind.WRITE);
        if (!gate.enter(via, this)) {
            return false;
        }
        long start = System.nanoTime();
        boolean ok = false;
        try {
            if (len > 0) {
                notifyBeforeWrite(new WriteRequest(this, WriteRequest.Kind.WRITE, offset, len, data, flags));
                try {
                    driver.run(flags.contains(ReqFlag.FUA));
                } finally {
                    markDirty(offset, len);
                }
            }
            ok = true;
            stats.wrote(offset + len);
        } finally {
            gate.exit();
            stats.account(IoStats.Kind.WRITE, len, start, ok);
        }
        return true;
    }

    final boolean writeZeroes(BlockChild via, long offset, long bytes, Set<ReqFlag> flags) throws BlockIOException {
        checkWritable("write-zeroes", offset, bytes, growing(via), IoStats.Kind.WRITE);
        if (!gate.enter(via, this)) {
            return false;
        }
        long start = System.nanoTime();
        boolean ok = false;
        try {
            if (bytes > 0) {
                boolean unmap = flags.contains(ReqFlag.MAY_UNMAP) && options.discardUnmap();
                notifyBeforeWrite(new WriteRequest(this, WriteRequest.Kind.WRITE_ZEROES, offset, bytes, null, flags));
                try {
                    doWriteZeroes(offset, bytes, unmap, flags.contains(ReqFlag.NO_FALLBACK));
                    if (flags.contains(ReqFlag.FUA)) {
                        doFlush();
                    }
                } finally {
                    markDirty(offset, bytes);
                }
            }
            ok = true;
            stats.wrote(offset + bytes);
        } finally {
            gate.exit();
            stats.account(IoStats.Kind.WRITE, bytes, start, ok);
        }
        return true;
    }

    final boolean discard(BlockChild via, long offset, long bytes) throws BlockIOException {
        checkWritable("discard", offset, bytes, false, IoStats.Kind.UNMAP);
        if (!options.discardUnmap()) {
            return true; // discard=ignore: QEMU returns before the request is even tracked
        }
        if (!gate.enter(via, this)) {
            return false;
        }
        long start = System.nanoTime();
        boolean ok = false;
        try {
            if (bytes > 0) {
                notifyBeforeWrite(new WriteRequest(this, WriteRequest.Kind.DISCARD, offset, bytes, null, Set.of()));
                try {
                    doDiscard(offset, bytes);
                } finally {
                    markDirty(offset, bytes);
                }
            }
            ok = true;
        } finally {
            gate.exit();
            stats.account(IoStats.Kind.UNMAP, bytes, start, ok);
        }
        return true;
    }

    final boolean flush(BlockChild via) throws BlockIOException {
        if (!gate.enter(via, this)) {
            return false;
        }
        long start = System.nanoTime();
        boolean ok = false;
        try {
            if (!options.noFlush()) {
                doFlush();
            }
            ok = true;
        } finally {
            gate.exit();
            stats.account(IoStats.Kind.FLUSH, 0, start, ok);
        }
        return true;
    }

    /**
     * Fills the parts of [offset, offset + src) that this node does not hold itself (it reads
     * them through its backing node) with {@code src}, which must be what the range reads as
     * now; parts the node holds are left alone, also when a writer filled them meanwhile
     * (QEMU's copy-on-read write, BDRV_REQ_WRITE_UNCHANGED). Guest-visible contents do not
     * change, so notifiers and dirty bitmaps are not called. block-stream's write.
     *
     * @throws BlockIOException ENOTSUP for a node without a backing chain of its own
     */
    public final void populate(long offset, MemorySegment src) throws BlockIOException {
        long len = src.byteSize();
        checkWritable("populate", offset, len, false, IoStats.Kind.WRITE);
        gate.enter(null, this); // a direct request: always admitted (after any drain)
        long start = System.nanoTime();
        boolean ok = false;
        try {
            if (len > 0) {
                doPopulate(offset, src);
            }
            ok = true;
        } finally {
            gate.exit();
            stats.account(IoStats.Kind.WRITE, len, start, ok);
        }
    }

    /** Fills what the node does not hold in a checked, non-empty range (see {@link #populate}). */
    protected void doPopulate(long offset, MemorySegment src) throws BlockIOException {
        throw new BlockIOException(Errno.ENOTSUP, "node '" + nodeName + "' has no backing chain to populate from");
    }

    final List<Extent> blockStatus(BlockChild via, long offset, long bytes) throws BlockIOException {
        checkRange("block-status", offset, bytes, Errno.EINVAL);
        if (!gate.enter(via, this)) {
            return null;
        }
        try {
            return bytes == 0 ? List.of() : merge(doBlockStatus(offset, bytes));
        } finally {
            gate.exit();
        }
    }

    private void notifyBeforeWrite(WriteRequest req) throws BlockIOException {
        for (BeforeWriteNotifier n : notifiers) {
            n.beforeWrite(req);
        }
    }

    private void markDirty(long offset, long bytes) {
        bitmaps.recordWrite(offset, bytes);
    }

    private boolean growing(BlockChild via) {
        return via != null && via.mayGrow() && growsOnWrite();
    }

    private void checkWritable(String op, long offset, long len, boolean mayGrow, IoStats.Kind kind)
            throws BlockIOException {
        try {
            checkWritable(op, offset, len, mayGrow);
        } catch (BlockIOException e) {
            stats.invalid(kind);
            throw e;
        }
    }

    private void checkWritable(String op, long offset, long len, boolean mayGrow) throws BlockIOException {
        if (readOnly()) {
            throw new BlockIOException(Errno.EPERM, op + " refused: node '" + nodeName + "' is read-only");
        }
        if (mayGrow) {
            checkRange(op, offset, len, Errno.ENOSPC, Long.MAX_VALUE);
        } else {
            checkRange(op, offset, len, Errno.ENOSPC);
        }
    }

    /** Refuses negative or overflowing ranges (EINVAL) and ranges past the end ({@code pastEnd}). */
    private void checkRange(String op, long offset, long len, Errno pastEnd) throws BlockIOException {
        checkRange(op, offset, len, pastEnd, size());
    }

    private void checkRange(String op, long offset, long len, Errno pastEnd, long size) throws BlockIOException {
        if (offset < 0 || len < 0 || offset > Long.MAX_VALUE - len) {
            throw new BlockIOException(Errno.EINVAL,
                    op + " of " + len + " bytes at offset " + offset + " on node '" + nodeName + "': invalid range");
        }
        if (offset + len > size) {
            throw new BlockIOException(pastEnd, op + " of " + len + " bytes at offset " + offset
                    + " is beyond the end of node '" + nodeName + "' (size " + size + ")");
        }
    }

    static List<Extent> merge(List<Extent> in) {
        List<Extent> out = new ArrayList<>(in.size());
        for (Extent e : in) {
            if (!out.isEmpty()) {
                Extent last = out.getLast();
                if (last.flags() == e.flags() && last.end() == e.offset()) {
                    out.set(out.size() - 1, new Extent(last.offset(), last.length() + e.length(), e.flags()));
                    continue;
                }
            }
            out.add(e);
        }
        return out;
    }

    // ---------------------------------------------------------------- driver hooks

    /** Reads a checked, non-empty range. */
    protected abstract void doRead(long offset, MemorySegment dst) throws BlockIOException;

    /**
     * Runs {@code use} with the host file span a checked, non-empty range reads as, unchanged (see
     * {@link #hostFileSpan}), and returns what it returned (empty for null); empty without calling it
     * by default. A driver that maps its bytes one to one onto a child's asks the child through
     * {@link BlockChild#hostFileSpan}; one that changes, checks or injects anything must not override it.
     */
    protected <T> Optional<T> doHostFileSpan(long offset, long bytes, HostFileSpan.Use<T> use)
            throws BlockIOException {
        return Optional.empty();
    }

    /**
     * Writes a checked, non-empty range with a host file span's bytes (see {@link #writeFromHostFile});
     * with {@code fua}, durably. The default reads the span into memory and writes it with
     * {@link #doWrite}; a driver that {@link #writesFromHostFiles} copies in the kernel.
     */
    protected void doWriteFromHostFile(long offset, HostFileSpan src, boolean fua) throws BlockIOException {
        writeSpanThroughMemory(offset, src, 0, fua);
    }

    /**
     * The span's bytes from {@code from} on, read into memory and written at {@code offset + from}
     * with {@link #doWrite}: {@link #doWriteFromHostFile} where the kernel cannot copy.
     */
    protected final void writeSpanThroughMemory(long offset, HostFileSpan src, long from, boolean fua)
            throws BlockIOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(src.length() - from, 4096);
            src.read(from, buf);
            doWrite(offset + from, buf, fua);
        }
    }

    /** Writes a checked, non-empty range; with {@code fua}, durably. */
    protected abstract void doWrite(long offset, MemorySegment src, boolean fua) throws BlockIOException;

    /**
     * Whether the node stores writes with {@link ReqFlag#WRITE_COMPRESSED} compressed (QEMU's
     * bdrv_supports_compressed_writes): only where the driver names a {@link #compressedWriteCluster}.
     */
    public final boolean supportsCompressedWrites() {
        return compressedWriteCluster() > 0;
    }

    /**
     * The unit of compressed writes (they cover whole, aligned units of it: a qcow2 cluster), or
     * 0 when the node has no compressed writes.
     */
    public long compressedWriteCluster() {
        return 0;
    }

    /**
     * Writes a checked, non-empty range compressed ({@link ReqFlag#WRITE_COMPRESSED}); drivers
     * that {@link #supportsCompressedWrites support} it override this.
     */
    protected void doWriteCompressed(long offset, MemorySegment src, boolean fua) throws BlockIOException {
        throw new BlockIOException(Errno.ENOTSUP, "node '" + nodeName() + "' (" + driverName()
                + ") does not support compressed writes");
    }

    /**
     * Zeroes a checked, non-empty range. {@code mayUnmap} is already false unless discard=unmap.
     * With {@code noFallback}, fail with ENOTSUP rather than write zero buffers.
     */
    protected abstract void doWriteZeroes(long offset, long bytes, boolean mayUnmap, boolean noFallback)
            throws BlockIOException;

    /** Discards a checked, non-empty range (only called with discard=unmap). */
    protected abstract void doDiscard(long offset, long bytes) throws BlockIOException;

    protected abstract void doFlush() throws BlockIOException;

    /** Status of a checked, non-empty range; extents must cover it in order. */
    protected abstract List<Extent> doBlockStatus(long offset, long bytes) throws BlockIOException;

    /**
     * What this node holds itself of a checked, non-empty range, in order (see
     * {@link #allocatedHere}). The default filters {@link #doBlockStatus}; a driver with a
     * backing chain overrides it so as not to ask the chain.
     */
    protected List<Extent> doAllocatedHere(long offset, long bytes) throws BlockIOException {
        List<Extent> out = new ArrayList<>();
        for (Extent e : doBlockStatus(offset, bytes)) {
            if (e.isAllocated()) {
                out.add(e);
            }
        }
        return out;
    }

    /**
     * Changes the node's size (block_resize). Call on the main loop inside a drained section
     * of the node; refused while the node has dirty bitmaps (they cover the old size).
     *
     * @throws BlockIOException ENOTSUP when the driver cannot, with a text that says why
     */
    public final void resize(long newSize) throws BlockIOException {
        if (readOnly()) {
            throw new BlockIOException(Errno.EPERM, "Node '" + nodeName + "' is read only");
        }
        if (!bitmaps.isEmpty()) {
            throw new BlockIOException(Errno.EBUSY, "Cannot resize node '" + nodeName
                    + "' while it has dirty bitmaps");
        }
        doResize(newSize);
    }

    /**
     * Makes the node read-only or read-write (blockdev-reopen, a commit job's base). Main loop,
     * inside a drained section of the node; the caller handles the children (the graph's
     * {@code reopenReadOnly}). Nothing changes when the driver refuses.
     *
     * @throws BlockIOException with the driver's reason (ENOTSUP: it cannot reopen)
     */
    public final void reopenReadOnly(boolean readOnly) throws BlockIOException {
        if (readOnly == readOnly()) {
            return;
        }
        doReopenReadOnly(readOnly);
        options = options.withReadOnly(readOnly);
    }

    /** Prepares the driver for the new mode (a host file is reopened); the default refuses, as QEMU. */
    protected void doReopenReadOnly(boolean readOnly) throws BlockIOException {
        throw new BlockIOException(Errno.ENOTSUP, "Block format '" + driverName + "' used by node '" + nodeName
                + "' does not support reopening files");
    }

    /**
     * Points the node's backing edge at {@code backing} (none when null) and, with
     * {@code record}, records {@code backingFile} and {@code backingFormat} in the image (QEMU's
     * bdrv_change_backing_file and bdrv_set_backing_hd; blockdev-reopen changes only the graph).
     * Main loop, drained; use the graph's {@code setBacking}.
     *
     * @throws BlockIOException ENOTSUP for a node that has no backing chain
     */
    protected void doSetBacking(BlockNode backing, boolean record, String backingFile, String backingFormat)
            throws BlockIOException {
        throw new BlockIOException(Errno.ENOTSUP, "Driver '" + driverName + "' of node '" + nodeName
                + "' does not support backing files");
    }

    final void setBacking(BlockNode backing, boolean record, String backingFile, String backingFormat)
            throws BlockIOException {
        doSetBacking(backing, record, backingFile, backingFormat);
    }

    /** Resizes; the default refuses as QEMU does for drivers without truncate. */
    protected void doResize(long newSize) throws BlockIOException {
        throw new BlockIOException(Errno.ENOTSUP, "Image format driver does not support resize");
    }

    /** Releases the node's resources; called by the graph once, after the node left it and was drained. */
    protected void close() {
    }

    // ---------------------------------------------------------------- drain

    /**
     * Opens a drained section: returns when no request is running on this node (requests on its
     * children made on behalf of this node's requests included, since they run inside them);
     * new requests on this node wait at its entrance until the section is closed.
     * <p>
     * Requests made directly on a child by another user are not affected: drain that child too.
     * Must not be called by a thread that has a request in flight on this node (it would wait
     * for itself), e.g. from a before-write notifier. Call on the main loop when the graph is to
     * change in the section ({@link BlockGraph#replaceNode}).
     */
    public final DrainedSection drain() {
        return gate.drain();
    }

    /** Requests in flight now (for tests and diagnostics). */
    public final long inflight() {
        return gate.inflight();
    }

    /** Requests waiting at this drained node's entrance (for tests and diagnostics). */
    public final int waitingAtEntrance() {
        return gate.waiters();
    }

    /** Whether a drained section is open. */
    public final boolean isDrained() {
        return gate.isDrained();
    }

    // ---------------------------------------------------------------- bitmaps and notifiers

    /**
     * Adds a dirty bitmap covering the node's current size; it sees every write that starts
     * after this returns. Main loop; the name must be unique on the node (checked by the caller).
     *
     * @param name        user-visible name, or null for an anonymous (job-owned) bitmap
     * @param granularity bytes per bit, a power of two in [512, 2^31]
     */
    public final DirtyBitmap addDirtyBitmap(String name, long granularity) throws BlockIOException {
        try {
            return bitmaps.add(name, granularity, size());
        } catch (BitmapException e) {
            throw new BlockIOException(Errno.EINVAL, e.getMessage());
        }
    }

    /** Removes a bitmap (with its successor); writes that start afterwards no longer mark it. */
    public final void removeDirtyBitmap(DirtyBitmap bitmap) {
        bitmaps.remove(bitmap);
    }

    /** The named bitmap, if any. */
    public final Optional<DirtyBitmap> dirtyBitmap(String name) {
        return bitmaps.find(name);
    }

    /** All bitmaps, named and anonymous, in creation order. */
    public final List<DirtyBitmap> dirtyBitmaps() {
        return bitmaps.all();
    }

    /**
     * The node's bitmaps as a set: adding with name checks, QEMU's successor protocol
     * (createSuccessor, abdicate, reclaim). See the package {@code dev.converge.block.bitmap}.
     */
    public final NodeBitmaps bitmaps() {
        return bitmaps;
    }

    /** Where the driver stores persistent bitmaps (qcow2), or empty when it cannot. */
    public Optional<BitmapStorage> bitmapStorage() {
        return Optional.empty();
    }

    /**
     * Registers a notifier called before every write-type request of this node; requests
     * admitted after this returns see it. Closing the registration removes it; requests already
     * past the notifier step are not waited for (drain the node for that).
     */
    public final AutoCloseable addBeforeWriteNotifier(BeforeWriteNotifier notifier) {
        Objects.requireNonNull(notifier);
        notifiers.add(notifier);
        return () -> notifiers.remove(notifier);
    }

    @Override
    public String toString() {
        return driverName + " node '" + nodeName + "'";
    }
}
