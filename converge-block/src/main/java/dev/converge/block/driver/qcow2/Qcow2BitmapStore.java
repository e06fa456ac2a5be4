package dev.converge.block.driver.qcow2;

import dev.converge.block.BlockChild;
import dev.converge.block.BlockIOException;
import dev.converge.block.Errno;
import dev.converge.block.bitmap.BitmapException;
import dev.converge.block.bitmap.BitmapStorage;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.block.bitmap.NodeBitmaps;
import dev.converge.block.driver.qcow2.Qcow2BitmapDirectory.Entry;
import dev.converge.block.driver.qcow2.Qcow2BitmapDirectory.Extension;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Persistent dirty bitmaps of one qcow2 image, as QEMU keeps them (block/qcow2-bitmap.c):
 * <ul>
 * <li><b>open</b>: every bitmap of the directory becomes a {@link DirtyBitmap} of the node
 *     (persistent; disabled unless {@code auto}; read-only on a read-only node). One whose
 *     {@code in_use} flag is set (the image was not closed cleanly) comes back
 *     {@linkplain DirtyBitmap#setInconsistent inconsistent}: its bits are not read, it may only be
 *     removed. On a writable node every entry is then marked {@code in_use} in place, so a crash
 *     leaves them inconsistent, never silently stale.</li>
 * <li><b>close</b>: every persistent, consistent bitmap is written anew (data clusters, all-zero
 *     ones left unallocated; its table), then a new directory; refcounts and data reach the disk
 *     before the header extension points at them; only then are the old directory and tables
 *     freed. Inconsistent bitmaps keep their entry (and clusters) as they are.</li>
 * <li><b>remove</b>: a new directory without the entry, the header, then the bitmap's clusters
 *     freed.</li>
 * </ul>
 * A bitmap added while the image is open reaches the image at close (as in QEMU). Threads: main
 * loop (open, remove) and the close; cluster allocation and the header go through
 * {@link Clusters}, which takes the node's metadata lock.
 */
final class Qcow2BitmapStore implements BitmapStorage {
    /** The node's cluster allocator and metadata lock, as the store needs them. */
    interface Clusters {
        /** Allocates {@code n} contiguous clusters (refcount 1); returns the first's offset. */
        long allocate(long n) throws BlockIOException;

        /** Drops the refcount of {@code n} clusters from {@code offset}. */
        void free(long offset, long n) throws BlockIOException;

        /** Writes cached refcounts and tables, then flushes the file. */
        void sync() throws BlockIOException;

        /** Runs {@code action} holding the node's metadata lock. */
        void locked(IoAction action) throws BlockIOException;
    }

    @FunctionalInterface
    interface IoAction {
        void run() throws BlockIOException;
    }

    private final BlockChild file;
    private final long clusterSize;
    private final int version;
    private final String nodeName;
    private final NodeBitmaps bitmaps;
    private final Clusters clusters;
    private final boolean readOnly;
    /** The directory as it is in the image. Guarded by the main loop (open, remove, close). */
    private List<Entry> stored = List.of();
    /** The extension as it is in the image, or null. Same guard. */
    private Extension extension;

    private Qcow2BitmapStore(BlockChild file, Qcow2Header h, String nodeName, NodeBitmaps bitmaps, Clusters clusters,
            boolean readOnly) {
        this.file = file;
        this.clusterSize = h.clusterSize();
        this.version = h.version();
        this.nodeName = nodeName;
        this.bitmaps = bitmaps;
        this.clusters = clusters;
        this.readOnly = readOnly;
    }

    /** Loads the image's bitmaps into {@code bitmaps}; on a writable image marks them in use. */
    static Qcow2BitmapStore open(BlockChild file, Qcow2Header h, String nodeName, long diskSize, NodeBitmaps bitmaps,
            Clusters clusters, boolean readOnly) throws BlockIOException {
        Qcow2BitmapStore s = new Qcow2BitmapStore(file, h, nodeName, bitmaps, clusters, readOnly);
        if (h.hasBitmapsExtension()) {
            s.load(h, diskSize);
        }
        return s;
    }

    private void load(Qcow2Header h, long diskSize) throws BlockIOException {
        HeaderCluster hc = readHeader();
        byte[] ext = hc.extension(Qcow2Header.EXT_BITMAPS);
        try {
            extension = Extension.parse(ByteBuffer.wrap(ext));
            if (extension.directorySize() <= 0 || extension.directorySize() > Qcow2BitmapDirectory.MAX_DIRECTORY_SIZE
                    || extension.nbBitmaps() <= 0 || extension.nbBitmaps() > Qcow2BitmapDirectory.MAX_BITMAPS
                    || (extension.directoryOffset() & (clusterSize - 1)) != 0) {
                throw corrupt("invalid bitmaps extension " + extension);
            }
            stored = Qcow2BitmapDirectory.parse(read(extension.directoryOffset(), (int) extension.directorySize()),
                    extension.nbBitmaps());
        } catch (Qcow2Header.FormatException e) {
            throw corrupt(e.getMessage());
        }
        // Without the autoclear bit, a program that knows no bitmaps wrote the image: none can be trusted.
        boolean trusted = (h.autoclearFeatures() & Qcow2Header.AUTOCLEAR_BITMAPS) != 0;
        for (Entry e : stored) {
            String problem = Qcow2BitmapDirectory.problem(e, diskSize, clusterSize);
            if (problem != null) {
                throw corrupt("bitmap '" + e.name() + "': " + problem);
            }
            DirtyBitmap b;
            try {
                b = bitmaps.add(e.name(), 1L << e.granularityBits(), diskSize);
            } catch (BitmapException x) {
                throw corrupt(x.getMessage());
            }
            b.setPersistent(true);
            if (e.inUse() || !trusted) {
                b.setInconsistent();
                continue;
            }
            readBits(e, b);
            b.setEnabled(e.auto());
            b.setReadonly(readOnly);
        }
        if (!readOnly) {
            List<Entry> inUse = new ArrayList<>();
            for (Entry e : stored) {
                inUse.add(e.withFlags(e.flags() | Qcow2BitmapDirectory.FLAG_IN_USE));
            }
            // Same size, same place: only the flags change.
            write(extension.directoryOffset(), Qcow2BitmapDirectory.encode(inUse));
            file.flush();
            stored = inUse;
        }
    }

    // ---------------------------------------------------------------- BitmapStorage

    @Override
    public void checkCanStore(String name, long granularity) throws BitmapException {
        if (version < 3) {
            throw new BitmapException("Cannot store dirty bitmaps in qcow2 v2 files");
        }
        int bits = Long.numberOfTrailingZeros(granularity);
        if (bits > Qcow2BitmapDirectory.MAX_GRANULARITY_BITS) {
            throw new BitmapException("Granularity exceeds maximum (" + (1L << Qcow2BitmapDirectory.MAX_GRANULARITY_BITS)
                    + " bytes)");
        }
        if (bits < Qcow2BitmapDirectory.MIN_GRANULARITY_BITS) {
            throw new BitmapException("Granularity is under minimum (" + (1L << Qcow2BitmapDirectory.MIN_GRANULARITY_BITS)
                    + " bytes)");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > Qcow2BitmapDirectory.MAX_NAME_SIZE) {
            throw new BitmapException("Name length exceeds maximum (" + Qcow2BitmapDirectory.MAX_NAME_SIZE
                    + " characters)");
        }
        long count = bitmaps.all().stream().filter(DirtyBitmap::persistent).count();
        if (count >= Qcow2BitmapDirectory.MAX_BITMAPS) {
            throw new BitmapException("Maximum number of persistent bitmaps is already reached");
        }
        long dirSize = bitmaps.all().stream().filter(DirtyBitmap::persistent)
                .mapToLong(b -> Qcow2BitmapDirectory.entrySize(b.name().getBytes(StandardCharsets.UTF_8).length, 0))
                .sum();
        if (dirSize + Qcow2BitmapDirectory.entrySize(name.getBytes(StandardCharsets.UTF_8).length, 0)
                > Qcow2BitmapDirectory.MAX_DIRECTORY_SIZE) {
            throw new BitmapException("Not enough space in the bitmap directory");
        }
    }

    @Override
    public void remove(String name) throws BitmapException {
        Entry gone = stored.stream().filter(e -> e.name().equals(name)).findFirst().orElse(null);
        if (gone == null) {
            return; // persistent but not stored yet
        }
        List<Entry> rest = new ArrayList<>(stored);
        rest.remove(gone);
        try {
            replaceDirectory(rest, List.of(gone));
        } catch (BlockIOException e) {
            throw new BitmapException("Failed to update bitmap extension: " + e.getMessage());
        }
    }

    // ---------------------------------------------------------------- close

    /** Writes every persistent bitmap (QEMU's qcow2_store_persistent_dirty_bitmaps). At close. */
    void storeAll() throws BlockIOException {
        if (readOnly) {
            return;
        }
        List<Entry> next = new ArrayList<>();
        List<Entry> replaced = new ArrayList<>();
        Set<String> kept = new HashSet<>();
        for (DirtyBitmap b : bitmaps.all()) {
            if (b.name() == null || !b.persistent()) {
                continue;
            }
            Entry old = stored.stream().filter(e -> e.name().equals(b.name())).findFirst().orElse(null);
            if (b.inconsistent()) {
                if (old != null) {
                    next.add(old); // untouched: still in use, still its clusters
                    kept.add(old.name());
                }
                continue;
            }
            next.add(writeBitmap(b));
            if (old != null) {
                replaced.add(old);
                kept.add(old.name());
            }
        }
        for (Entry e : stored) {
            if (!kept.contains(e.name())) {
                replaced.add(e); // removed from the node without reaching the image's directory
            }
        }
        if (next.isEmpty() && stored.isEmpty()) {
            return;
        }
        replaceDirectory(next, replaced);
    }

    /** Writes {@code b}'s data clusters and table; returns its new directory entry. */
    private Entry writeBitmap(DirtyBitmap b) throws BlockIOException {
        long granularity = b.granularity();
        int tableSize = (int) Qcow2BitmapDirectory.tableSize(b.length(), granularity, clusterSize);
        long bytesPerCluster = clusterSize * 8 * granularity; // disk bytes one data cluster covers
        ByteBuffer table = ByteBuffer.allocate(tableSize * 8).order(ByteOrder.BIG_ENDIAN);
        for (int i = 0; i < tableSize; i++) {
            long from = i * bytesPerCluster;
            List<DirtyBitmap.Range> ranges = b.dirtyRanges(from, Math.min(bytesPerCluster, b.length() - from));
            long entry = 0;
            if (!ranges.isEmpty()) {
                byte[] data = new byte[(int) clusterSize];
                for (DirtyBitmap.Range r : ranges) {
                    long first = (r.offset() - from) / granularity;
                    long last = (r.end() - from - 1) / granularity;
                    for (long bit = first; bit <= last; bit++) {
                        data[(int) (bit >>> 3)] |= (byte) (1 << (bit & 7));
                    }
                }
                entry = clusters.allocate(1);
                write(entry, ByteBuffer.wrap(data));
            }
            table.putLong(entry);
        }
        long tableOffset = clusters.allocate(clustersFor(tableSize * 8L));
        write(tableOffset, table.flip());
        return new Entry(tableOffset, tableSize, b.enabled() ? Qcow2BitmapDirectory.FLAG_AUTO : 0,
                Qcow2BitmapDirectory.TYPE_DIRTY_TRACKING, Long.numberOfTrailingZeros(granularity), b.name(),
                new byte[0]);
    }

    /**
     * Makes {@code entries} the image's directory (none: the extension goes), in the crash-safe
     * order, then frees the old directory and the clusters of {@code freed}.
     */
    private void replaceDirectory(List<Entry> entries, List<Entry> freed) throws BlockIOException {
        Extension next = null;
        if (!entries.isEmpty()) {
            ByteBuffer dir = Qcow2BitmapDirectory.encode(entries);
            long at = clusters.allocate(clustersFor(dir.remaining()));
            next = new Extension(entries.size(), dir.remaining(), at);
            write(at, dir);
        }
        clusters.sync(); // refcounts, tables and data on disk before the header points at them
        Extension written = next;
        clusters.locked(() -> writeHeader(written));
        file.flush();
        Extension old = extension;
        extension = next;
        stored = List.copyOf(entries);
        for (Entry e : freed) {
            freeBitmap(e);
        }
        if (old != null) {
            clusters.free(old.directoryOffset(), clustersFor(old.directorySize()));
        }
        clusters.sync();
    }

    private void freeBitmap(Entry e) throws BlockIOException {
        ByteBuffer t = read(e.tableOffset(), e.tableSize() * 8);
        for (int i = 0; i < e.tableSize(); i++) {
            long off = t.getLong(i * 8) & Qcow2BitmapDirectory.TABLE_OFFSET_MASK;
            if (off != 0) {
                clusters.free(off, 1);
            }
        }
        clusters.free(e.tableOffset(), clustersFor(e.tableSize() * 8L));
    }

    private long clustersFor(long bytes) {
        return Math.max(1, (bytes + clusterSize - 1) / clusterSize);
    }

    // ---------------------------------------------------------------- bits

    /** Reads a stored bitmap's data into {@code b}. */
    private void readBits(Entry e, DirtyBitmap b) throws BlockIOException {
        long granularity = 1L << e.granularityBits();
        long bitsPerCluster = clusterSize * 8;
        ByteBuffer table = read(e.tableOffset(), e.tableSize() * 8);
        for (int i = 0; i < e.tableSize(); i++) {
            long entry = table.getLong(i * 8);
            long off = entry & Qcow2BitmapDirectory.TABLE_OFFSET_MASK;
            long firstBit = i * bitsPerCluster;
            if (off == 0) {
                if ((entry & Qcow2BitmapDirectory.TABLE_ALL_ONES) != 0) {
                    b.setDirty(firstBit * granularity, bitsPerCluster * granularity);
                }
                continue;
            }
            if ((off & (clusterSize - 1)) != 0) {
                throw corrupt("bitmap '" + e.name() + "': misaligned data cluster " + off);
            }
            ByteBuffer data = read(off, (int) clusterSize);
            long runStart = -1;
            for (long bit = 0; bit <= bitsPerCluster; bit++) {
                boolean set = bit < bitsPerCluster && (data.get((int) (bit >>> 3)) & (1 << (bit & 7))) != 0;
                if (set && runStart < 0) {
                    runStart = bit;
                } else if (!set && runStart >= 0) {
                    b.setDirty((firstBit + runStart) * granularity, (bit - runStart) * granularity);
                    runStart = -1;
                }
            }
        }
    }

    // ---------------------------------------------------------------- header

    /** The first cluster: the header, its extensions in order, the backing file name. */
    private record HeaderCluster(ByteBuffer bytes, int headerLength, List<int[]> extensions) {
        byte[] extension(int type) {
            for (int[] x : extensions) {
                if (x[0] == type) {
                    byte[] d = new byte[x[2]];
                    bytes.get(x[1], d);
                    return d;
                }
            }
            return new byte[0];
        }
    }

    private HeaderCluster readHeader() throws BlockIOException {
        ByteBuffer b = read(0, (int) clusterSize);
        int headerLength = version == 3 ? b.getInt(100) : Qcow2Header.V2_HEADER_LENGTH;
        List<int[]> exts = new ArrayList<>(); // {type, data offset, length}
        int pos = headerLength;
        while (pos + 8 <= clusterSize) {
            int type = b.getInt(pos);
            int len = b.getInt(pos + 4);
            if (type == Qcow2Header.EXT_END) {
                break;
            }
            if (len < 0 || pos + 8 + len > clusterSize) {
                throw corrupt("header extension 0x" + Integer.toHexString(type) + " exceeds the first cluster");
            }
            exts.add(new int[] {type, pos + 8, len});
            pos += 8 + ((len + 7) & ~7);
        }
        return new HeaderCluster(b, headerLength, exts);
    }

    /**
     * Rewrites the first cluster with the bitmaps extension set to {@code ext} (null: removed) and
     * the autoclear bit to match; other extensions keep their order and bytes, the backing file
     * name moves behind them. Under the node's metadata lock.
     */
    private void writeHeader(Extension ext) throws BlockIOException {
        HeaderCluster hc = readHeader();
        ByteBuffer old = hc.bytes();
        long backingOffset = old.getLong(8);
        int backingSize = old.getInt(16);
        byte[] backingName = new byte[backingOffset == 0 ? 0 : backingSize];
        if (backingOffset != 0) {
            old.get((int) backingOffset, backingName);
        }
        ByteBuffer b = ByteBuffer.allocate((int) clusterSize).order(ByteOrder.BIG_ENDIAN);
        b.put(old.duplicate().position(0).limit(hc.headerLength()));
        for (int[] x : hc.extensions()) {
            if (x[0] != Qcow2Header.EXT_BITMAPS) {
                putExtension(b, x[0], hc.extension(x[0]));
            }
        }
        if (ext != null) {
            putExtension(b, Qcow2Header.EXT_BITMAPS, ext.encode());
        }
        if (b.remaining() < 8 + backingName.length) {
            throw new BlockIOException(Errno.ENOSPC, "qcow2 header extensions of node '" + nodeName
                    + "' do not fit in the first cluster");
        }
        b.putInt(Qcow2Header.EXT_END).putInt(0);
        if (backingOffset != 0) {
            b.putLong(8, b.position());
            b.put(backingName);
        }
        if (version == 3) {
            long autoclear = old.getLong(88);
            b.putLong(88, ext != null ? autoclear | Qcow2Header.AUTOCLEAR_BITMAPS
                    : autoclear & ~Qcow2Header.AUTOCLEAR_BITMAPS);
        }
        write(0, b.position(0));
    }

    private static void putExtension(ByteBuffer b, int type, byte[] data) throws BlockIOException {
        int padded = (data.length + 7) & ~7;
        if (b.remaining() < 8 + padded) {
            throw new BlockIOException(Errno.ENOSPC, "qcow2 header extensions do not fit in the first cluster");
        }
        b.putInt(type).putInt(data.length).put(data);
        b.position(b.position() + padded - data.length);
    }

    // ---------------------------------------------------------------- I/O

    private ByteBuffer read(long offset, int len) throws BlockIOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(Math.max(1, len));
            if (len > 0) {
                file.read(offset, seg.asSlice(0, len));
            }
            return ByteBuffer.wrap(seg.asSlice(0, len).toArray(ValueLayout.JAVA_BYTE)).order(ByteOrder.BIG_ENDIAN);
        }
    }

    private void write(long offset, ByteBuffer data) throws BlockIOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(Math.max(1, data.remaining()));
            seg.asSlice(0, data.remaining()).copyFrom(MemorySegment.ofBuffer(data));
            file.write(offset, seg.asSlice(0, data.remaining()), Set.of());
        }
    }

    private BlockIOException corrupt(String what) {
        return new BlockIOException(Errno.EIO, "qcow2 bitmaps of node '" + nodeName + "' are corrupt: " + what);
    }

    /** For tests: the directory as in the image. */
    List<Entry> stored() {
        return stored;
    }
}
