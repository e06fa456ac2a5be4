package dev.converge.block.driver.qcow2;

import dev.converge.block.BlockChild;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Errno;
import dev.converge.block.Extent;
import dev.converge.block.NodeOptions;
import dev.converge.block.driver.OpenException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The {@code qcow2} format driver (QEMU's published format, docs/interop/qcow2.txt), over a
 * {@code file} child and an optional {@code backing} node.
 *
 * <h2>Mapping</h2>
 * Guest offsets map through the L1 table (in memory, written through) and L2 tables (in a
 * write-back {@link TableCache}) to host clusters. Unallocated clusters read from the backing
 * node (zeroes past its end, or without one); zero clusters (v3), compressed clusters (deflate)
 * and extended L2 entries with 32 subclusters are read. Writes allocate whole clusters: a partial
 * write into an unallocated, zero, compressed or shared cluster first reads the cluster's current
 * contents (copy-on-write from the backing node) and writes the whole cluster anew. Compressed
 * writes (a job's {@code compress}) are {@link CompressedWrites}'.
 *
 * <h2>Crash safety</h2>
 * In QEMU's order: refcounts are raised (cached) before the data is written, the data before the
 * L2 entry is set, and the L2 cache writes nothing before the refcount cache is written and the
 * file flushed; a new L2 table is written before the L1 entry that points at it. Freeing goes
 * the other way: the L2 tables no longer pointing at a cluster are written and flushed before its
 * refcount drops. A kill -9 at any point leaves at most leaked clusters.
 *
 * <h2>Locks</h2>
 * {@link #meta} guards every metadata structure (L1, caches, refcounts, header state). An
 * allocating write into clusters without a host cluster holds it only to allocate and claim
 * (the guest clusters go into {@link #allocating}) and to set the L2 entries after its data is
 * written; the data moves unlocked, so allocating writes run in parallel (QEMU's do too). A
 * request that meets a claimed cluster waits on {@link #allocated}, then maps again: two writers
 * never allocate the same guest cluster, and a populate never overwrites a guest write.
 * {@link #freeLock} keeps clusters from being freed under in-flight I/O: reads and in-place
 * writes hold it shared, requests that free clusters (discard, zeroing with unmap) exclusive.
 * Order: freeLock before meta. Compressed data is read under {@link #meta}.
 * <p>
 * Reads and in-place writes map without {@link #meta} ({@link #mapUnlocked}): the L1 entry is
 * read with acquire semantics, the L2 table is found through {@link #l2Hints} and read under its
 * sequence stamp ({@link TableCache}), and the run is kept only if the table did not change
 * meanwhile; otherwise (a table not cached, a change in progress, compressed data, a corrupt
 * entry) they map under {@link #meta} as before. A read racing an allocating write of the same
 * cluster reads either the old contents (the entry was not set yet) or the new ones, never a
 * table half changed.
 */
public final class Qcow2Node extends BlockNode {
    private static final ValueLayout.OfLong BE64 = Refcounts.BE64;
    /** Elements of {@link #l1}: written with release under meta, read with acquire by lock-free mapping. */
    private static final VarHandle L1_ENTRY = MethodHandles.arrayElementVarHandle(long[].class);
    /** Elements of {@link #l2Hints}. */
    private static final VarHandle HINT = MethodHandles.arrayElementVarHandle(TableCache.Table[].class);
    /**
     * The zero block written at the end of a fresh host cluster past the file's old end, so the
     * file covers the cluster (one page: aligned for O_DIRECT).
     */
    private static final long ZERO_TAIL = 4096;
    /** QEMU's default L2 cache: enough for the whole disk, at most 32 MiB. */
    static final long DEFAULT_L2_CACHE_MAX = 32L << 20;

    private final BlockChild file;
    /**
     * The backing node's edge, or null. Replaced on the main loop while the node is drained
     * ({@link #doSetBacking}); volatile for the request threads.
     */
    private volatile BlockChild backing;
    /** The backing file name and format in the image; written with {@link #backing}. */
    private volatile String backingFileName;
    private volatile String backingFormat;
    private final int version;
    private final int clusterBits;
    private final long clusterSize;
    private final boolean extendedL2;
    /** Bytes per L2 entry: 8, or 16 with extended L2. */
    private final int l2EntryBytes;
    private final int l2Bits;
    private final long subclusterSize;
    private final int subclusterBits;
    private final boolean lazyRefcounts;
    private final Qcow2Header openedHeader;
    private final ReentrantLock meta = new ReentrantLock();
    private final ReentrantReadWriteLock freeLock = new ReentrantReadWriteLock();
    /**
     * The L1 table. Changed under meta (entries through {@link #L1_ENTRY}, the array replaced by a
     * resize); read under meta, or without it by {@link #mapUnlocked}.
     */
    private volatile long[] l1;
    /**
     * The cached L2 table last seen for each L1 index, for {@link #mapUnlocked}: a hint only (the
     * table may have been evicted and reused since; its offset is checked under its stamp). Set
     * under meta through {@link #HINT}; replaced with {@link #l1} by a resize.
     */
    private volatile TableCache.Table[] l2Hints;
    /** Guarded by meta. */
    private long l1Offset;
    /** Virtual size; written under meta (resize), read anywhere. */
    private volatile long size;
    /** Guarded by meta. */
    private final TableCache l2Cache;
    /** Guarded by meta. */
    private final Refcounts refcounts;
    /** A cluster-sized buffer for copy-on-write; guarded by meta. */
    private final MemorySegment scratch;
    /**
     * Guest clusters whose allocating write is writing its data outside {@link #meta}, as
     * [first, end) cluster indexes; their L2 entries are set when it is done. Guarded by meta.
     */
    private final List<long[]> allocating = new ArrayList<>();
    /** Signalled under meta whenever a claim of {@link #allocating} is dropped. */
    private final Condition allocated = meta.newCondition();
    /** Cluster buffers for copy-on-write outside meta, reused; allocated in {@link #arena} on demand. */
    private final Queue<MemorySegment> cowBuffers = new ConcurrentLinkedQueue<>();
    /** A cluster of zeroes, never written. */
    private final MemorySegment zeroCluster;
    private final Arena arena = Arena.ofShared();
    /** Set when corruption was found: every later write fails. */
    private volatile boolean corrupt;
    private volatile boolean closed;
    /** Compressed cluster writes (their own class). */
    private final CompressedWrites compressedWrites;
    /** The image's persistent dirty bitmaps (their own classes: Qcow2BitmapStore). */
    private final Qcow2BitmapStore bitmapStore;

    private Qcow2Node(String nodeName, NodeOptions options, BlockNode fileNode, BlockNode backingNode,
            Probe probe, long l2CacheBytes, long refcountCacheBytes) throws BlockIOException {
        super(nodeName, "qcow2", options);
        Qcow2Header h = probe.header();
        this.openedHeader = h;
        this.file = addChild("file", fileNode, true);
        this.backing = backingNode == null ? null : addChild("backing", backingNode);
        this.backingFileName = probe.backingFile().orElse(null);
        this.backingFormat = h.backingFormat().orElse(null);
        this.version = h.version();
        this.clusterBits = h.clusterBits();
        this.clusterSize = h.clusterSize();
        this.extendedL2 = h.extendedL2();
        this.l2EntryBytes = extendedL2 ? 16 : 8;
        this.l2Bits = clusterBits - (extendedL2 ? 4 : 3);
        this.subclusterSize = extendedL2 ? clusterSize / L2Entry.SUBCLUSTERS : clusterSize;
        this.subclusterBits = Long.numberOfTrailingZeros(subclusterSize);
        this.lazyRefcounts = h.lazyRefcounts();
        this.size = h.size();
        this.l1Offset = h.l1TableOffset();
        long[] table = new long[h.l1Size()];
        if (h.l1Size() > 0) {
            MemorySegment seg = arena.allocate((long) h.l1Size() * 8);
            file.read(l1Offset, seg);
            for (int i = 0; i < table.length; i++) {
                table[i] = seg.getAtIndex(BE64, i);
            }
        }
        this.l1 = table;
        this.l2Hints = new TableCache.Table[table.length];
        long l2Max = (long) l1.length * clusterSize;
        int l2Tables = (int) Math.max(16, Math.min(l2Max, l2CacheBytes) / clusterSize);
        int rbTables = (int) Math.max(4, refcountCacheBytes / clusterSize);
        TableCache.FileSync sync = this::syncFile;
        this.refcounts = new Refcounts(file, h, fileNode.size(), rbTables, sync);
        this.l2Cache = new TableCache("L2 table", file, (int) clusterSize, l2Tables, sync);
        this.l2Cache.dependOn(refcounts.cache());
        this.scratch = arena.allocate(clusterSize, 4096);
        this.zeroCluster = arena.allocate(clusterSize, 4096);
        this.compressedWrites = new CompressedWrites(new CompressedClusters(), file, meta, refcounts, clusterBits);
        this.refcounts.onFreed(compressedWrites::freed);
        this.bitmapStore = Qcow2BitmapStore.open(file, h, nodeName, h.size(), bitmaps(), new BitmapClusters(),
                options.readOnly());
    }

    /** What the bitmap store needs of the image's metadata: clusters and the metadata lock. */
    private final class BitmapClusters implements Qcow2BitmapStore.Clusters {
        @Override
        public long allocate(long n) throws BlockIOException {
            meta.lock();
            try {
                return refcounts.allocate(n);
            } finally {
                meta.unlock();
            }
        }

        @Override
        public void free(long offset, long n) throws BlockIOException {
            meta.lock();
            try {
                refcounts.update(offset, n, -1);
            } finally {
                meta.unlock();
            }
        }

        @Override
        public void sync() throws BlockIOException {
            doFlush();
        }

        @Override
        public void locked(Qcow2BitmapStore.IoAction action) throws BlockIOException {
            meta.lock();
            try {
                action.run();
            } finally {
                meta.unlock();
            }
        }
    }

    @Override
    public Optional<dev.converge.block.bitmap.BitmapStorage> bitmapStorage() {
        return Optional.of(bitmapStore);
    }

    /** What {@link #probe} found: the header and the backing file name stored in the image. */
    public record Probe(Qcow2Header header, Optional<String> backingFile) {
    }

    /**
     * Reads and checks the header of the image in {@code file}, before the backing node is opened.
     *
     * @throws OpenException with a text that names what is wrong
     */
    public static Probe probe(BlockNode file, boolean readOnly) throws OpenException {
        try {
            long fileSize = file.size();
            int len = (int) Math.min(fileSize, 1 << 21);
            ByteBuffer head;
            try (Arena a = Arena.ofConfined()) {
                MemorySegment seg = a.allocate(Math.max(len, 1));
                if (len > 0) {
                    file.read(0, seg.asSlice(0, len));
                }
                head = ByteBuffer.wrap(seg.asSlice(0, len).toArray(ValueLayout.JAVA_BYTE));
            }
            Qcow2Header h = Qcow2Header.parse(head);
            if (h.cryptMethod() != 0) {
                throw new OpenException("Encrypted qcow2 images are not supported by converge");
            }
            if (h.dataFile().isPresent() || (h.incompatibleFeatures() & Qcow2Header.INCOMPAT_DATA_FILE) != 0) {
                throw new OpenException("qcow2 images with an external data file ('data-file') are not supported "
                        + "by converge");
            }
            long unknown = h.incompatibleFeatures() & ~Qcow2Header.INCOMPAT_KNOWN;
            if (unknown != 0) {
                throw new OpenException("Unsupported qcow2 feature(s): incompatible bits 0x" + Long.toHexString(unknown));
            }
            if (h.compressionType() != 0) {
                throw new OpenException("qcow2 compression type " + h.compressionType()
                        + " (zstd) is not supported by converge (only deflate)");
            }
            if (h.extendedL2() && h.clusterBits() < 14) {
                throw new OpenException("Extended L2 entries are only supported with cluster sizes of at least 16384 bytes");
            }
            if (!readOnly && h.corrupt()) {
                throw new OpenException("qcow2: Image is corrupt; cannot be opened read/write");
            }
            if (!readOnly && h.dirty()) {
                throw new OpenException("qcow2 image was not closed cleanly (dirty bit set by lazy refcounts): "
                        + "repair it with 'qemu-img check -r all' first, or open it read-only");
            }
            if (!readOnly && h.nbSnapshots() > 0) {
                throw new OpenException("qcow2 images with internal snapshots can only be opened read-only by converge");
            }
            if (h.size() < 0 || (h.l1Size() > 0 && (h.l1TableOffset() & (h.clusterSize() - 1)) != 0)
                    || (h.refcountTableOffset() & (h.clusterSize() - 1)) != 0) {
                throw new OpenException("qcow2 header is invalid: misaligned table offsets");
            }
            long needL1 = (h.size() + (h.clusterSize() * (h.clusterSize() / (h.extendedL2() ? 16 : 8))) - 1)
                    / (h.clusterSize() * (h.clusterSize() / (h.extendedL2() ? 16 : 8)));
            if (h.l1Size() < needL1) {
                throw new OpenException("L1 table is too small");
            }
            return new Probe(h, h.backingFile(head));
        } catch (Qcow2Header.FormatException e) {
            throw new OpenException(e.getMessage());
        } catch (BlockIOException e) {
            throw new OpenException("Could not read qcow2 header: " + e.getMessage());
        }
    }

    /**
     * Opens the image over {@code file} with the probed header and {@code backing} (or none).
     *
     * @param l2CacheBytes       L2 cache size in bytes (0: QEMU's default)
     * @param refcountCacheBytes refcount cache size in bytes (0: a quarter of the L2 cache)
     */
    public static Qcow2Node open(String nodeName, NodeOptions options, BlockNode file, BlockNode backing, Probe probe,
            long l2CacheBytes, long refcountCacheBytes) throws OpenException {
        long l2 = l2CacheBytes > 0 ? l2CacheBytes : DEFAULT_L2_CACHE_MAX;
        long rb = refcountCacheBytes > 0 ? refcountCacheBytes : Math.max(l2 / 4, 4 * probe.header().clusterSize());
        try {
            return new Qcow2Node(nodeName, options, file, backing, probe, l2, rb);
        } catch (BlockIOException e) {
            throw new OpenException("Could not open qcow2 image: " + e.getMessage());
        }
    }

    // ---------------------------------------------------------------- identity

    @Override
    public long size() {
        return size;
    }

    @Override
    public String filename() {
        return file.node().filename();
    }

    @Override
    public OptionalLong actualSize() {
        return file.node().actualSize();
    }

    /** The backing node, if any. */
    public Optional<BlockNode> backingNode() {
        BlockChild b = backing;
        return b == null ? Optional.empty() : Optional.of(b.node());
    }

    /** The backing file name stored in the image, if any. */
    public Optional<String> backingFileName() {
        return Optional.ofNullable(backingFileName);
    }

    /** The backing format stored in the image, if any. */
    public Optional<String> backingFormat() {
        return Optional.ofNullable(backingFormat);
    }

    public int version() {
        return version;
    }

    public long clusterSize() {
        return clusterSize;
    }

    public boolean extendedL2() {
        return extendedL2;
    }

    public boolean lazyRefcounts() {
        return lazyRefcounts;
    }

    public int refcountBits() {
        return openedHeader.refcountBits();
    }

    /** Whether corruption was found (the corrupt bit is set in the image). */
    public boolean corrupt() {
        return corrupt || openedHeader.corrupt();
    }

    /** L2 cache hits and misses since open (for query-blockstats-like diagnostics). */
    public long[] l2CacheCounters() {
        meta.lock();
        try {
            return new long[] {l2Cache.hits(), l2Cache.misses()};
        } finally {
            meta.unlock();
        }
    }

    // ---------------------------------------------------------------- mapping

    /**
     * One run of guest bytes that read the same way.
     *
     * @param kind   how the run reads
     * @param host   host offset of the run's first byte (NORMAL), or the raw entry (COMPRESSED)
     * @param length bytes in the run
     * @param copied NORMAL only: the cluster may be written in place (refcount 1)
     */
    private record Run(L2Entry.Kind kind, long host, long length, boolean copied) {
    }

    private long l2Coverage() {
        return 1L << (clusterBits + l2Bits);
    }

    /** The run starting at guest {@code off}, at most {@code len} bytes, within one L2 table. Under meta. */
    private Run map(long off, long len) throws BlockIOException {
        int l1Index = (int) (off >>> (clusterBits + l2Bits));
        long max = Math.min(len, (l1Index + 1L) * l2Coverage() - off);
        long l2Offset = l1Index < l1.length ? l1[l1Index] & L2Entry.OFFSET_MASK : 0;
        if (l2Offset == 0) {
            return new Run(L2Entry.Kind.UNALLOCATED, 0, max, false);
        }
        checkAligned(l2Offset, "L2 table offset");
        TableCache.Table t = cachedL2(l1Index, l2Offset);
        Run r = runIn(t, off, max);
        if (r.kind() == L2Entry.Kind.NORMAL) {
            checkAligned(r.host() - (off & (clusterSize - 1)), "data cluster offset");
        }
        return r;
    }

    /** The L2 table at {@code l2Offset} (of L1 entry {@code l1Index}), from the cache; remembered as its hint. Under meta. */
    private TableCache.Table cachedL2(int l1Index, long l2Offset) throws BlockIOException {
        TableCache.Table t = l2Cache.get(l2Offset);
        TableCache.Table[] hints = l2Hints;
        if (l1Index < hints.length && hints[l1Index] != t) {
            HINT.setRelease(hints, l1Index, t);
        }
        return t;
    }

    /**
     * {@link #map} without {@link #meta}: null when only the locked map can answer (the L2 table
     * is not cached or changing, the run is compressed, or an offset is misaligned, which the
     * locked map reports as corruption). A run returned was consistent at one instant: the table
     * did not change while it was read.
     */
    private Run mapUnlocked(long off, long len) {
        return mapUnlocked(off, len, false);
    }

    /** {@link #mapUnlocked(long, long)}; with {@code compressed}, compressed runs are answered too (block status reads no data). */
    private Run mapUnlocked(long off, long len, boolean compressed) {
        int l1Index = (int) (off >>> (clusterBits + l2Bits));
        long max = Math.min(len, (l1Index + 1L) * l2Coverage() - off);
        long[] l1 = this.l1;
        TableCache.Table[] hints = this.l2Hints;
        if (l1Index >= l1.length || l1Index >= hints.length) {
            return null;
        }
        long l2Offset = (long) L1_ENTRY.getAcquire(l1, l1Index) & L2Entry.OFFSET_MASK;
        if (l2Offset == 0) {
            return new Run(L2Entry.Kind.UNALLOCATED, 0, max, false);
        }
        TableCache.Table t = (TableCache.Table) HINT.getAcquire(hints, l1Index);
        if (t == null) {
            return null;
        }
        int stamp = t.stamp();
        if ((stamp & 1) != 0 || t.offset != l2Offset) {
            return null;
        }
        Run r = runIn(t, off, max);
        if (!t.unchangedSince(stamp) || (r.kind() == L2Entry.Kind.COMPRESSED && !compressed)
                || (r.kind() == L2Entry.Kind.NORMAL && ((r.host() - (off & (clusterSize - 1))) & (clusterSize - 1)) != 0)) {
            return null;
        }
        if (!t.used) {
            t.used = true; // written only when it changes: every reader writing it would bounce its cache line
        }
        return r;
    }

    /**
     * The run at {@code off} for block status, whose answer may be stale as soon as it is given: the
     * lock-free mapping when it can answer (compressed runs included), else under meta.
     */
    private Run mapAny(long off, long len) throws BlockIOException {
        Run r = mapUnlocked(off, len, true);
        if (r != null) {
            return r;
        }
        meta.lock();
        try {
            return map(off, len);
        } finally {
            meta.unlock();
        }
    }

    /**
     * The run from guest {@code off}, at most {@code max} bytes, read from the entries of L2 table
     * {@code t}: following subclusters or clusters of the same kind (and contiguous host data)
     * join it. Pure reading of the table: under meta, or inside a stamp check.
     */
    private Run runIn(TableCache.Table t, long off, long max) {
        int index = (int) ((off >>> clusterBits) & ((1L << l2Bits) - 1));
        long entry = t.data.get(BE64, (long) index * l2EntryBytes);
        long bitmap = extendedL2 ? t.data.get(BE64, (long) index * l2EntryBytes + 8) : 0;
        int sc = (int) ((off & (clusterSize - 1)) >>> subclusterBits);
        L2Entry.Kind kind = L2Entry.kind(entry, bitmap, extendedL2, sc);
        if (kind == L2Entry.Kind.COMPRESSED) {
            long clusterEnd = (off | (clusterSize - 1)) + 1;
            return new Run(kind, entry, Math.min(max, clusterEnd - off), false);
        }
        long host = 0;
        boolean copied = false;
        if (kind == L2Entry.Kind.NORMAL) {
            host = L2Entry.hostOffset(entry) + (off & (clusterSize - 1));
            copied = (entry & L2Entry.COPIED) != 0;
        }
        // extend over following subclusters/clusters of the same kind (and contiguous host data)
        long pos = ((off >>> subclusterBits) + 1) << subclusterBits;
        while (pos < off + max) {
            int i = (int) ((pos >>> clusterBits) & ((1L << l2Bits) - 1));
            long e = t.data.get(BE64, (long) i * l2EntryBytes);
            long bm = extendedL2 ? t.data.get(BE64, (long) i * l2EntryBytes + 8) : 0;
            int s = (int) ((pos & (clusterSize - 1)) >>> subclusterBits);
            L2Entry.Kind k = L2Entry.kind(e, bm, extendedL2, s);
            if (k != kind) {
                break;
            }
            if (kind == L2Entry.Kind.NORMAL && (L2Entry.hostOffset(e) + (pos & (clusterSize - 1)) != host + (pos - off)
                    || ((e & L2Entry.COPIED) != 0) != copied)) {
                break;
            }
            pos += subclusterSize;
        }
        return new Run(kind, host, Math.min(max, pos - off), copied);
    }

    private void checkAligned(long hostOffset, String what) throws BlockIOException {
        if ((hostOffset & (clusterSize - 1)) != 0) {
            throw markCorrupt(what + " " + hostOffset + " is not cluster aligned");
        }
    }

    /** Sets the corrupt bit (as QEMU does on finding inconsistent metadata) and fails the request. */
    private BlockIOException markCorrupt(String what) {
        if (!corrupt && !readOnly()) {
            corrupt = true;
            try (Arena a = Arena.ofConfined()) {
                MemorySegment bits = a.allocate(8);
                bits.set(BE64, 0, openedHeader.incompatibleFeatures() | Qcow2Header.INCOMPAT_CORRUPT);
                file.write(Qcow2Header.OFF_INCOMPATIBLE, bits, Set.of());
                file.flush();
            } catch (BlockIOException e) {
                // the request fails anyway; the image stays as it is
            }
        }
        return new BlockIOException(Errno.EIO, "qcow2 node '" + nodeName() + "' is corrupt: " + what
                + "; further writes are refused");
    }

    // ---------------------------------------------------------------- reads

    @Override
    protected void doRead(long offset, MemorySegment dst) throws BlockIOException {
        checkOpen();
        long len = dst.byteSize();
        long pos = 0;
        while (pos < len) {
            long off = offset + pos;
            long n;
            freeLock.readLock().lock();
            try {
                Run r = mapUnlocked(off, len - pos);
                if (r == null) {
                    meta.lock();
                    try {
                        r = map(off, len - pos);
                        if (r.kind() == L2Entry.Kind.COMPRESSED) {
                            readCompressed(r.host(), off & (clusterSize - 1), dst.asSlice(pos, r.length()));
                            pos += r.length();
                            continue;
                        }
                    } finally {
                        meta.unlock();
                    }
                }
                n = r.length();
                MemorySegment part = dst.asSlice(pos, n);
                switch (r.kind()) {
                    case NORMAL -> file.read(r.host(), part);
                    case ZERO -> part.fill((byte) 0);
                    case UNALLOCATED -> readBacking(off, part);
                    default -> throw new IllegalStateException(r.kind().toString());
                }
            } finally {
                freeLock.readLock().unlock();
            }
            pos += n;
        }
    }

    /** Reads what lies under this image: the backing node's bytes, zeroes past its end or without one. */
    private void readBacking(long off, MemorySegment dst) throws BlockIOException {
        BlockChild backing = this.backing;
        if (backing == null) {
            dst.fill((byte) 0);
            return;
        }
        long backingSize = backing.node().size();
        long n = Math.max(0, Math.min(dst.byteSize(), backingSize - off));
        if (n > 0) {
            backing.read(off, dst.asSlice(0, n));
        }
        if (n < dst.byteSize()) {
            dst.asSlice(n).fill((byte) 0);
        }
    }

    /** Inflates the compressed cluster {@code entry} and copies [inCluster, +dst) out of it. Under meta. */
    private void readCompressed(long entry, long inCluster, MemorySegment dst) throws BlockIOException {
        long hostOff = L2Entry.compressedOffset(entry, clusterBits);
        long clen = L2Entry.compressedLength(entry, clusterBits);
        long fileSize = file.node().size();
        clen = Math.min(clen, fileSize - hostOff);
        if (clen <= 0 || clen > 2 * clusterSize + 512) {
            throw markCorrupt("compressed cluster descriptor at host offset " + hostOff + " is out of range");
        }
        byte[] in = new byte[(int) clen];
        MemorySegment inSeg = MemorySegment.ofArray(in);
        file.read(hostOff, inSeg);
        byte[] out = new byte[(int) clusterSize];
        Inflater inf = new Inflater(true);
        try {
            inf.setInput(in);
            int got = 0;
            while (got < out.length && !inf.finished()) {
                int k = inf.inflate(out, got, out.length - got);
                if (k == 0 && (inf.needsInput() || inf.needsDictionary())) {
                    break;
                }
                got += k;
            }
            if (got != out.length) {
                throw new BlockIOException(Errno.EIO, "compressed cluster at host offset " + hostOff
                        + " inflates to " + got + " bytes, not " + out.length);
            }
        } catch (DataFormatException e) {
            throw new BlockIOException(Errno.EIO, "compressed cluster at host offset " + hostOff + ": " + e.getMessage());
        } finally {
            inf.end();
        }
        MemorySegment.copy(MemorySegment.ofArray(out), inCluster, dst, 0, dst.byteSize());
    }

    // ---------------------------------------------------------------- writes

    private void checkOpen() throws BlockIOException {
        if (closed) {
            throw new BlockIOException(Errno.EIO, "node '" + nodeName() + "' is closed");
        }
    }

    private void checkWritable() throws BlockIOException {
        checkOpen();
        if (corrupt) {
            throw new BlockIOException(Errno.EIO, "qcow2 node '" + nodeName() + "' is corrupt; writes are refused");
        }
    }

    @Override
    protected void doWrite(long offset, MemorySegment src, boolean fua) throws BlockIOException {
        checkWritable();
        long len = src.byteSize();
        long pos = 0;
        while (pos < len) {
            pos += writeSome(offset + pos, src.asSlice(pos));
        }
        if (fua) {
            doFlush();
        }
    }

    /** Writes a prefix of {@code src} at guest {@code off}; returns its length. */
    private long writeSome(long off, MemorySegment src) throws BlockIOException {
        freeLock.readLock().lock();
        try {
            Run r = mapUnlocked(off, src.byteSize());
            if (r == null || r.kind() != L2Entry.Kind.NORMAL || !r.copied()) {
                meta.lock();
                try {
                    r = map(off, src.byteSize());
                    if (r.kind() != L2Entry.Kind.NORMAL || !r.copied()) {
                        return allocatingWrite(off, src);
                    }
                } finally {
                    meta.unlock();
                }
            }
            file.write(r.host(), src.asSlice(0, r.length()), Set.of()); // in place: no metadata changes
            return r.length();
        } finally {
            freeLock.readLock().unlock();
        }
    }

    /**
     * Writes into clusters that need new metadata: whole clusters without a host cluster get
     * fresh clusters (several at once, written with one request); a partial write into a cluster
     * without a host cluster gets a fresh cluster holding what the cluster reads as now (its
     * backing bytes or zeroes) around the new bytes (when that is zeroes and the fresh cluster
     * was never used, past the file's old end, only the new bytes and a zero block at the
     * cluster's end are written: the rest is a hole). Both write their data <em>outside</em>
     * {@link #meta} (QEMU's qcow2 allocates under its lock and writes the data without it): the
     * host clusters are allocated and the guest clusters claimed ({@link #allocating}) under
     * meta, then the data is written unlocked, then, under meta again, the L2 entries are set
     * (after the data, so a crash leaves at most a leaked cluster) and the claim dropped. A guest
     * cluster claimed by another request is waited for; the caller then maps again (this returns
     * 0). Any other cluster (our own zero-flagged cluster, a compressed or a shared one) is
     * rewritten whole under meta with its current contents around the new bytes.
     * <p>
     * Under meta (held once) on entry and on return; returns the bytes written, or 0 after a wait.
     */
    private long allocatingWrite(long off, MemorySegment src) throws BlockIOException {
        assert meta.getHoldCount() == 1;
        long inCluster = off & (clusterSize - 1);
        long cluster = off >>> clusterBits;
        if (claimed(cluster, cluster + 1)) {
            allocated.awaitUninterruptibly(); // its entry is set meanwhile: map again
            return 0;
        }
        TableCache.Table t = l2Table(off, true);
        int index = l2Index(off);
        if (inCluster == 0 && src.byteSize() >= clusterSize) {
            // whole clusters with no host cluster of their own: allocate them together
            long max = Math.min(src.byteSize() >>> clusterBits, (1L << l2Bits) - index);
            long n = 0;
            while (n < max && hasNoHostCluster(t, index + (int) n) && !claimed(cluster + n, cluster + n + 1)) {
                n++;
            }
            if (n > 0) {
                long host = refcounts.allocate(n);
                writeFresh(off, n, host, src.asSlice(0, n << clusterBits));
                return n << clusterBits;
            }
        }
        long n = Math.min(src.byteSize(), clusterSize - inCluster);
        long clusterStart = off - inCluster;
        if (hasNoHostCluster(t, index)) {
            // what the cluster reads as now: its runs (zero or unallocated) are stable while it is claimed
            List<Run> runs = clusterRuns(clusterStart);
            long usedEnd = refcounts.endCluster() << clusterBits;
            long host = refcounts.allocate(1);
            if (host >= usedEnd && readsAsZeroes(runs)) {
                // A host cluster never used before lies past the file's end as it was: a hole that
                // reads as zeroes. Only the new bytes are written, and a zero block at the cluster's
                // end so the file covers the whole cluster (QEMU writes zeroes to a fresh cluster
                // with a write-zeroes request instead of writing them out).
                long tail = Math.max(inCluster + n, clusterSize - ZERO_TAIL);
                writeFresh(off, 1, host, () -> {
                    file.write(host + inCluster, src.asSlice(0, n), Set.of());
                    if (tail < clusterSize) {
                        file.write(host + tail, zeroCluster.asSlice(0, clusterSize - tail), Set.of());
                    }
                });
                return n;
            }
            MemorySegment buf = cowBuffers.poll();
            MemorySegment cow = buf != null ? buf : arena.allocate(clusterSize, 4096);
            try {
                writeFresh(off, 1, host, () -> {
                    fillFromRuns(clusterStart, runs, cow);
                    MemorySegment.copy(src, 0, cow, inCluster, n);
                    file.write(host, cow, Set.of());
                });
            } finally {
                cowBuffers.add(cow);
            }
            return n;
        }
        // the cluster's current contents around the new bytes
        if (n < clusterSize) {
            readCurrent(clusterStart, scratch);
        }
        MemorySegment.copy(src, 0, scratch, inCluster, n);
        t = l2Table(off, false);
        long entry = t.data.get(BE64, (long) index * l2EntryBytes);
        long oldHost = L2Entry.hostOffset(entry);
        if (!L2Entry.compressed(entry) && oldHost != 0 && (entry & L2Entry.COPIED) != 0) {
            // our own cluster (zero-flagged, or with unallocated subclusters): rewrite it in place
            long from = 0;
            long to = clusterSize;
            long bitmap = L2Entry.ALL_ALLOCATED;
            if (extendedL2) {
                // Its allocated subclusters may be written in place meanwhile (in-place writes do not
                // hold meta): what we read of them may be stale, so only the request's own bytes go
                // into them. The subclusters that read as zeroes or from the backing node change only
                // under meta: they are written whole, with what they read as around the new bytes.
                long old = t.data.get(BE64, (long) index * l2EntryBytes + 8);
                int first = (int) (inCluster >>> subclusterBits);
                int last = (int) ((inCluster + n - 1) >>> subclusterBits);
                from = L2Entry.kind(entry, old, true, first) == L2Entry.Kind.NORMAL ? inCluster
                        : (long) first << subclusterBits;
                to = L2Entry.kind(entry, old, true, last) == L2Entry.Kind.NORMAL ? inCluster + n
                        : (long) (last + 1) << subclusterBits;
                long span = ((1L << (last - first + 1)) - 1) << first;
                bitmap = (old | span) & ~(span << 32);
            }
            file.write(oldHost + from, scratch.asSlice(from, to - from), Set.of());
            setEntry(t, index, oldHost | L2Entry.COPIED, bitmap);
            return n;
        }
        long host = refcounts.allocate(1);
        file.write(host, scratch, Set.of());
        t = l2Table(off, false);
        setEntry(t, index, host | L2Entry.COPIED, L2Entry.ALL_ALLOCATED);
        if (L2Entry.compressed(entry)) {
            // the old compressed data is ours alone once the new entry is on disk
            writeBackL2AndSync();
            long c = L2Entry.compressedOffset(entry, clusterBits);
            long last = c + L2Entry.compressedLength(entry, clusterBits) - 1;
            refcounts.update(c & ~(clusterSize - 1), ((last >>> clusterBits) - (c >>> clusterBits)) + 1, -1);
        } else if (oldHost != 0) {
            writeBackL2AndSync(); // a shared cluster: drop our reference after the entry moved
            refcounts.update(oldHost, 1, -1);
        }
        return n;
    }

    /** Writes {@code data} to the fresh host clusters at {@code host} (see {@link #writeFresh(long, long, long, IoAction)}). */
    private void writeFresh(long off, long n, long host, MemorySegment data) throws BlockIOException {
        writeFresh(off, n, host, () -> file.write(host, data, Set.of()));
    }

    /**
     * The unlocked part of an allocating write of the {@code n} guest clusters from {@code off}
     * into the fresh host clusters at {@code host} (refcounts already raised): claims the guest
     * clusters, releases meta while {@code write} runs, then sets their L2 entries and drops the
     * claim. A failed write gives the host clusters back. Under meta on entry and on return.
     */
    private void writeFresh(long off, long n, long host, IoAction write) throws BlockIOException {
        long cluster = off >>> clusterBits;
        long[] claim = {cluster, cluster + n};
        allocating.add(claim);
        boolean written = false;
        try {
            meta.unlock();
            try {
                write.run();
                written = true;
            } finally {
                meta.lock();
            }
            TableCache.Table t = l2Table(off, false); // it may have been evicted meanwhile
            int index = l2Index(off);
            for (int i = 0; i < n; i++) {
                setEntry(t, index + i, (host + ((long) i << clusterBits)) | L2Entry.COPIED, L2Entry.ALL_ALLOCATED);
            }
        } finally {
            allocating.remove(claim);
            allocated.signalAll();
            if (!written) {
                refcounts.update(host, n, -1); // never referenced: free again (a crash now leaks it at most)
            }
        }
    }

    /** An I/O step run while {@link #meta} is released. */
    @FunctionalInterface
    private interface IoAction {
        void run() throws BlockIOException;
    }

    /** Whether a guest cluster of [first, end) has an allocating write in flight. Under meta. */
    private boolean claimed(long first, long end) {
        for (long[] c : allocating) {
            if (c[0] < end && first < c[1]) {
                return true;
            }
        }
        return false;
    }

    /** Whether runs of a cluster without a host cluster read as zeroes: zero, or unallocated without a backing node. */
    private boolean readsAsZeroes(List<Run> runs) {
        for (Run r : runs) {
            if (!(r.kind() == L2Entry.Kind.ZERO || (r.kind() == L2Entry.Kind.UNALLOCATED && backing == null))) {
                return false;
            }
        }
        return true;
    }

    /** The runs of the guest cluster at {@code clusterStart}, clipped to the disk. Under meta. */
    private List<Run> clusterRuns(long clusterStart) throws BlockIOException {
        List<Run> runs = new ArrayList<>();
        long n = Math.min(clusterSize, size - clusterStart);
        for (long pos = 0; pos < n;) {
            Run r = map(clusterStart + pos, n - pos);
            runs.add(r);
            pos += r.length();
        }
        return runs;
    }

    /**
     * Fills {@code buf} with what a cluster without a host cluster reads as, from its runs (zero
     * or unallocated: the backing node's bytes); zeroes past the disk's end. Needs no lock: the
     * runs are the caller's snapshot, and the backing node is another node.
     */
    private void fillFromRuns(long clusterStart, List<Run> runs, MemorySegment buf) throws BlockIOException {
        long pos = 0;
        for (Run r : runs) {
            MemorySegment part = buf.asSlice(pos, r.length());
            switch (r.kind()) {
                case ZERO -> part.fill((byte) 0);
                case UNALLOCATED -> readBacking(clusterStart + pos, part);
                default -> throw new IllegalStateException("cluster without a host cluster maps as " + r.kind());
            }
            pos += r.length();
        }
        if (pos < clusterSize) {
            buf.asSlice(pos).fill((byte) 0);
        }
    }

    /** Reads the guest cluster at {@code clusterStart} (clipped to the disk) as it reads now. Under meta. */
    private void readCurrent(long clusterStart, MemorySegment buf) throws BlockIOException {
        long n = Math.min(clusterSize, size - clusterStart);
        long pos = 0;
        while (pos < n) {
            Run r = map(clusterStart + pos, n - pos);
            MemorySegment part = buf.asSlice(pos, r.length());
            switch (r.kind()) {
                case NORMAL -> file.read(r.host(), part);
                case ZERO -> part.fill((byte) 0);
                case UNALLOCATED -> readBacking(clusterStart + pos, part);
                case COMPRESSED -> readCompressed(r.host(), (clusterStart + pos) & (clusterSize - 1), part);
            }
            pos += r.length();
        }
        if (n < clusterSize) {
            buf.asSlice(n).fill((byte) 0);
        }
    }

    private boolean hasNoHostCluster(TableCache.Table t, int index) {
        long e = t.data.get(BE64, (long) index * l2EntryBytes);
        return !L2Entry.compressed(e) && L2Entry.hostOffset(e) == 0;
    }

    private int l2Index(long off) {
        return (int) ((off >>> clusterBits) & ((1L << l2Bits) - 1));
    }

    /** Sets an L2 entry (and its subcluster bitmap), seen by lock-free mapping only whole. Under meta. */
    private void setEntry(TableCache.Table t, int index, long entry, long bitmap) {
        t.beginChange();
        t.data.set(BE64, (long) index * l2EntryBytes, entry);
        if (extendedL2) {
            t.data.set(BE64, (long) index * l2EntryBytes + 8, bitmap);
        }
        t.endChange();
        t.dirty = true;
    }

    /**
     * The L2 table covering guest {@code off}; with {@code create}, allocates it when the L1 entry
     * is empty (written, then the L1 entry). Under meta.
     */
    private TableCache.Table l2Table(long off, boolean create) throws BlockIOException {
        int l1Index = (int) (off >>> (clusterBits + l2Bits));
        if (l1Index >= l1.length) {
            throw new BlockIOException(Errno.EIO, "guest offset " + off + " is past the L1 table");
        }
        long l2Offset = l1[l1Index] & L2Entry.OFFSET_MASK;
        if (l2Offset != 0) {
            return cachedL2(l1Index, l2Offset);
        }
        if (!create) {
            throw new IllegalStateException("L2 table vanished");
        }
        long at = refcounts.allocate(1);
        TableCache.Table t = l2Cache.create(at);
        l2Cache.writeBack(t); // refcounts first (dependency), then the table
        syncFile();
        setL1Entry(l1Index, at | L2Entry.COPIED);
        HINT.setRelease(l2Hints, l1Index, t);
        return t;
    }

    private void setL1Entry(int index, long value) throws BlockIOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment e = a.allocate(8);
            e.set(BE64, 0, value);
            file.write(l1Offset + index * 8L, e, Set.of());
        }
        L1_ENTRY.setRelease(l1, index, value);
    }

    /** Writes the refcount blocks, flushes, writes the L2 tables, flushes (before refcounts may drop). */
    private void writeBackL2AndSync() throws BlockIOException {
        l2Cache.writeBack();
        syncFile();
    }

    private void syncFile() throws BlockIOException {
        if (!options().noFlush()) {
            file.flush();
        }
    }

    /**
     * Fills the unallocated runs of the range with {@code src} (what they read as now, from the
     * backing chain): each run is checked under {@link #meta} and claimed while its data is
     * written, so a guest write that allocated it meanwhile is never overwritten, and one that
     * comes later waits for the claim and then writes over it.
     */
    @Override
    protected void doPopulate(long offset, MemorySegment src) throws BlockIOException {
        checkWritable();
        long len = src.byteSize();
        long pos = 0;
        while (pos < len) {
            freeLock.readLock().lock();
            try {
                meta.lock();
                try {
                    // mapped again after every allocating write: meta was released while it wrote
                    Run r = map(offset + pos, len - pos);
                    if (r.kind() == L2Entry.Kind.UNALLOCATED) {
                        pos += allocatingWrite(offset + pos, src.asSlice(pos, r.length()));
                    } else {
                        pos += r.length();
                    }
                } finally {
                    meta.unlock();
                }
            } finally {
                freeLock.readLock().unlock();
            }
        }
    }

    // ---------------------------------------------------------------- reopen and backing

    /**
     * Read-only: the caches are written back first. Read-write: the header is read again and
     * checked as at a read-write open (corrupt, dirty, internal snapshots, persistent bitmaps).
     */
    @Override
    protected void doReopenReadOnly(boolean readOnly) throws BlockIOException {
        checkOpen();
        if (dirtyBitmaps().stream().anyMatch(dev.converge.block.bitmap.DirtyBitmap::persistent)) {
            // the bitmap store keeps the mode the image was opened in (in-use flags, write-back at close)
            throw new BlockIOException(Errno.ENOTSUP, "converge cannot reopen qcow2 node '" + nodeName()
                    + "' while it has persistent dirty bitmaps");
        }
        if (readOnly) {
            doFlush();
            return;
        }
        try {
            probe(file.node(), false);
        } catch (OpenException e) {
            throw new BlockIOException(Errno.EPERM, e.getMessage());
        }
        if (corrupt) {
            throw new BlockIOException(Errno.EPERM, "qcow2: Image is corrupt; cannot be opened read/write");
        }
    }

    /** With {@code record}: rewrites the header's backing file name and format, flushes; then moves the edge. */
    @Override
    protected void doSetBacking(BlockNode newBacking, boolean record, String newFile, String newFormat)
            throws BlockIOException {
        if (!record) {
            backing = replaceChild("backing", newBacking);
            return;
        }
        checkWritable();
        // what the image holds now (a stream's copies: data and L2 entries) is durable before the
        // header stops pointing at the chain that held it until now
        doFlush();
        if (readOnly()) {
            throw new BlockIOException(Errno.EPERM, "Could not change the backing file of node '" + nodeName()
                    + "': it is read-only");
        }
        meta.lock();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment head = a.allocate(clusterSize);
            file.read(0, head.asSlice(0, Math.min(clusterSize, file.node().size())));
            ByteBuffer updated;
            try {
                updated = Qcow2Header.withBacking(head.asByteBuffer(), Optional.ofNullable(newFile),
                        Optional.ofNullable(newFile == null ? null : newFormat));
            } catch (Qcow2Header.FormatException e) {
                throw new BlockIOException(Errno.ENOSPC, e.getMessage());
            }
            file.write(0, MemorySegment.ofBuffer(updated), Set.of());
            syncFile();
            backing = replaceChild("backing", newBacking);
            backingFileName = newFile;
            backingFormat = newFile == null ? null : newFormat;
        } finally {
            meta.unlock();
        }
    }

    // ---------------------------------------------------------------- zeroes and discard

    @Override
    protected void doWriteZeroes(long offset, long bytes, boolean mayUnmap, boolean noFallback)
            throws BlockIOException {
        checkWritable();
        long end = offset + bytes;
        long start = alignUp(offset);
        // the last cluster of a disk whose size is not cluster aligned counts as whole
        long whole = end == size ? alignUp(end) : alignDown(end);
        boolean canFlag = version >= 3 || backing == null;
        if (!canFlag || whole <= start) {
            writeZeroBuffers(offset, bytes, noFallback);
            return;
        }
        writeZeroBuffers(offset, start - offset, noFallback);
        changeClusters(start, whole - start, mayUnmap, true);
        if (end < whole) {
            return;
        }
        writeZeroBuffers(whole, end - whole, noFallback);
    }

    /** Zeroes a partial-cluster range by writing zeroes, unless it reads as zeroes already. */
    private void writeZeroBuffers(long off, long bytes, boolean noFallback) throws BlockIOException {
        if (bytes <= 0) {
            return;
        }
        if (readsAsZeroes(off, bytes)) {
            return;
        }
        if (noFallback) {
            throw new BlockIOException(Errno.ENOTSUP, "write-zeroes of " + bytes + " bytes at " + off
                    + " on qcow2 node '" + nodeName() + "' needs zero buffers written, and NO_FALLBACK was given");
        }
        for (long done = 0; done < bytes;) {
            long n = Math.min(clusterSize, bytes - done);
            doWrite(off + done, zeroCluster.asSlice(0, n), false);
            done += n;
        }
    }

    private boolean readsAsZeroes(long off, long bytes) throws BlockIOException {
        meta.lock();
        try {
            long pos = off;
            while (pos < off + bytes) {
                Run r = map(pos, off + bytes - pos);
                if (!(r.kind() == L2Entry.Kind.ZERO || (r.kind() == L2Entry.Kind.UNALLOCATED && backing == null))) {
                    return false;
                }
                pos += r.length();
            }
            return true;
        } finally {
            meta.unlock();
        }
    }

    @Override
    protected void doDiscard(long offset, long bytes) throws BlockIOException {
        checkWritable();
        long start = alignUp(offset);
        long end = offset + bytes == size ? alignUp(size) : alignDown(offset + bytes);
        if (end > start) {
            changeClusters(start, end - start, true, false);
        }
    }

    /**
     * Zeroes ({@code zero}) or discards whole clusters [off, off + bytes): the entries become
     * zero clusters (v3), or unallocated (discard, or zeroing v2 without a backing node); with
     * {@code unmap} the host clusters are freed, after the L2 tables that no longer point at them
     * were written and flushed.
     */
    private void changeClusters(long off, long bytes, boolean unmap, boolean zero) throws BlockIOException {
        freeLock.writeLock().lock();
        meta.lock();
        try {
            List<long[]> freed = new ArrayList<>();
            long pos = off;
            long end = Math.min(off + bytes, alignUp(size));
            while (pos < end) {
                int l1Index = (int) (pos >>> (clusterBits + l2Bits));
                long tableEnd = Math.min(end, (long) (l1Index + 1) * l2Coverage());
                boolean hasTable = l1Index < l1.length && (l1[l1Index] & L2Entry.OFFSET_MASK) != 0;
                if (!hasTable && (!zero || backing == null)) {
                    pos = tableEnd; // unallocated without a table reads right already
                    continue;
                }
                TableCache.Table t = l2Table(pos, true);
                for (; pos < tableEnd; pos += clusterSize) {
                    int i = l2Index(pos);
                    long e = t.data.get(BE64, (long) i * l2EntryBytes);
                    long host = L2Entry.compressed(e) ? 0 : L2Entry.hostOffset(e);
                    boolean keep = !unmap && host != 0 && (e & L2Entry.COPIED) != 0;
                    long newEntry;
                    long newBitmap;
                    if (zero && version >= 3) {
                        newEntry = extendedL2 ? (keep ? host | L2Entry.COPIED : 0)
                                : (keep ? host | L2Entry.COPIED : 0) | L2Entry.ZERO;
                        newBitmap = L2Entry.ALL_ZERO;
                    } else {
                        newEntry = 0;
                        newBitmap = 0;
                        keep = false;
                    }
                    if (e == newEntry && !extendedL2) {
                        continue;
                    }
                    setEntry(t, i, newEntry, newBitmap);
                    if (L2Entry.compressed(e)) {
                        long c = L2Entry.compressedOffset(e, clusterBits);
                        long last = c + L2Entry.compressedLength(e, clusterBits) - 1;
                        freed.add(new long[] {c & ~(clusterSize - 1), (last >>> clusterBits) - (c >>> clusterBits) + 1});
                    } else if (host != 0 && !keep) {
                        freed.add(new long[] {host, 1});
                    }
                }
            }
            if (!freed.isEmpty()) {
                writeBackL2AndSync();
                for (long[] f : freed) {
                    refcounts.update(f[0], f[1], -1);
                }
            }
        } finally {
            meta.unlock();
            freeLock.writeLock().unlock();
        }
    }

    private long alignUp(long v) {
        return (v + clusterSize - 1) & ~(clusterSize - 1);
    }

    private long alignDown(long v) {
        return v & ~(clusterSize - 1);
    }

    // ---------------------------------------------------------------- resize

    /**
     * Grows the virtual disk: a larger L1 table first when needed (its refcounts and contents
     * flushed before the header points at it, the old one freed after), then the header's size.
     */
    @Override
    protected void doResize(long newSize) throws BlockIOException {
        checkWritable();
        if (newSize < size) {
            throw new BlockIOException(Errno.ENOTSUP, "converge cannot shrink qcow2 images");
        }
        if (newSize % 512 != 0) {
            throw new BlockIOException(Errno.EINVAL, "The new size must be a multiple of 512");
        }
        meta.lock();
        try (Arena a = Arena.ofConfined()) {
            long need = (newSize + l2Coverage() - 1) / l2Coverage();
            if (need > l1.length) {
                if (need > (32L << 20) / 8) {
                    throw new BlockIOException(Errno.EFBIG, "Active L1 table too large");
                }
                long clusters = (need * 8 + clusterSize - 1) / clusterSize;
                long at = refcounts.allocate(clusters);
                MemorySegment table = a.allocate(clusters * clusterSize);
                for (int i = 0; i < l1.length; i++) {
                    table.setAtIndex(BE64, i, l1[i]);
                }
                refcounts.writeBack();
                file.write(at, table, Set.of());
                syncFile();
                MemorySegment hdr = a.allocate(12);
                hdr.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 0, (int) need);
                hdr.set(BE64, 4, at);
                file.write(Qcow2Header.OFF_L1_SIZE, hdr, Set.of());
                syncFile();
                long oldOffset = l1Offset;
                long oldClusters = ((long) l1.length * 8 + clusterSize - 1) / clusterSize;
                l2Hints = java.util.Arrays.copyOf(l2Hints, (int) need);
                l1 = java.util.Arrays.copyOf(l1, (int) need); // the hints first: lock-free mapping checks both bounds
                l1Offset = at;
                if (oldClusters > 0 && oldOffset != 0) {
                    refcounts.update(oldOffset, oldClusters, -1);
                }
            }
            MemorySegment sz = a.allocate(8);
            sz.set(BE64, 0, newSize);
            file.write(Qcow2Header.OFF_SIZE, sz, Set.of());
            syncFile();
            size = newSize;
        } finally {
            meta.unlock();
        }
    }

    // ---------------------------------------------------------------- compressed writes

    /** Compressed writes cover whole clusters. */
    @Override
    public long compressedWriteCluster() {
        return clusterSize;
    }

    /** QEMU's compressed writes: whole clusters into unallocated clusters ({@link CompressedWrites}). */
    @Override
    protected void doWriteCompressed(long offset, MemorySegment src, boolean fua) throws BlockIOException {
        compressedWrites.write(offset, src, fua);
    }

    /** What the compressed writer needs of this node. */
    private final class CompressedClusters implements CompressedWrites.Node {
        @Override
        public void checkWritable() throws BlockIOException {
            Qcow2Node.this.checkWritable();
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public long entry(long off) throws BlockIOException {
            return l2Table(off, true).data.get(BE64, (long) l2Index(off) * l2EntryBytes);
        }

        @Override
        public void setEntry(long off, long entry) throws BlockIOException {
            Qcow2Node.this.setEntry(l2Table(off, false), l2Index(off), entry, 0);
        }

        @Override
        public void writePlain(long off, MemorySegment src) throws BlockIOException {
            doWrite(off, src, false);
        }

        @Override
        public void flush() throws BlockIOException {
            doFlush();
        }
    }

    // ---------------------------------------------------------------- flush, status, close

    @Override
    protected void doFlush() throws BlockIOException {
        checkOpen();
        meta.lock();
        try {
            l2Cache.writeBack();
            refcounts.writeBack();
        } finally {
            meta.unlock();
        }
        file.flush();
    }

    @Override
    protected List<Extent> doBlockStatus(long offset, long bytes) throws BlockIOException {
        checkOpen();
        List<Extent> out = new ArrayList<>();
        long pos = offset;
        long end = offset + bytes;
        while (pos < end) {
            Run r = mapAny(pos, end - pos);
            switch (r.kind()) {
                case NORMAL, COMPRESSED -> out.add(new Extent(pos, r.length(), Extent.DATA | Extent.ALLOCATED));
                case ZERO -> out.add(new Extent(pos, r.length(), Extent.ZERO | Extent.ALLOCATED));
                case UNALLOCATED -> backingStatus(pos, r.length(), out);
            }
            pos += r.length();
        }
        return out;
    }

    /** The clusters this image holds (data, compressed or zero), from the L2 tables alone: the backing chain is not asked. */
    @Override
    protected List<Extent> doAllocatedHere(long offset, long bytes) throws BlockIOException {
        checkOpen();
        List<Extent> out = new ArrayList<>();
        long end = offset + bytes;
        for (long pos = offset; pos < end;) {
            Run r = mapAny(pos, end - pos);
            switch (r.kind()) {
                case NORMAL, COMPRESSED -> out.add(new Extent(pos, r.length(), Extent.DATA | Extent.ALLOCATED));
                case ZERO -> out.add(new Extent(pos, r.length(), Extent.ZERO | Extent.ALLOCATED));
                case UNALLOCATED -> {
                }
            }
            pos += r.length();
        }
        return out;
    }

    /** The status of an unallocated range: the backing node's, without ALLOCATED; zero past it or without one. */
    private void backingStatus(long off, long len, List<Extent> out) throws BlockIOException {
        BlockChild backing = this.backing;
        long covered = 0;
        if (backing != null) {
            long bsize = backing.node().size();
            long n = Math.max(0, Math.min(len, bsize - off));
            if (n > 0) {
                for (Extent e : backing.blockStatus(off, n)) {
                    out.add(new Extent(e.offset(), e.length(), e.flags() & ~Extent.ALLOCATED));
                }
                covered = n;
            }
        }
        if (covered < len) {
            out.add(new Extent(off + covered, len - covered, Extent.ZERO));
        }
    }

    @Override
    protected void close() {
        if (closed) {
            return;
        }
        if (!readOnly()) {
            try {
                bitmapStore.storeAll();
            } catch (BlockIOException e) {
                System.getLogger(Qcow2Node.class.getName()).log(System.Logger.Level.WARNING,
                        "qcow2 node '" + nodeName() + "': persistent bitmaps could not be stored at close (they stay "
                                + "in use in the image, inconsistent when next opened): " + e.getMessage());
            }
            try {
                doFlush();
            } catch (BlockIOException e) {
                System.getLogger(Qcow2Node.class.getName()).log(System.Logger.Level.WARNING,
                        "qcow2 node '" + nodeName() + "': metadata could not be written at close: " + e.getMessage());
            }
        }
        closed = true;
        meta.lock();
        try {
            l2Cache.close();
            refcounts.close();
            compressedWrites.close();
            arena.close();
        } finally {
            meta.unlock();
        }
    }

    /** "qcow2" when the file starts with the qcow2 magic, else "raw" (QEMU's probe for backing files). */
    public static String probeFormat(java.nio.file.Path file) {
        try (var ch = java.nio.channels.FileChannel.open(file)) {
            ByteBuffer b = ByteBuffer.allocate(4);
            ch.read(b, 0);
            return b.position() == 4 && b.getInt(0) == Qcow2Header.MAGIC ? "qcow2" : "raw";
        } catch (java.io.IOException e) {
            return "raw"; // opening it will report the error
        }
    }
}
