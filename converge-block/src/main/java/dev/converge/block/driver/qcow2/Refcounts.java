package dev.converge.block.driver.qcow2;

import dev.converge.block.BlockChild;
import dev.converge.block.BlockIOException;
import dev.converge.block.Errno;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The refcount structure of an image: the refcount table (kept in memory, written through) and
 * its refcount blocks (in a {@link TableCache}), and cluster allocation on top of them.
 * <p>
 * Crash-safety order, as QEMU's: a new refcount block is written before the table entry that
 * points at it; a grown refcount table and its new blocks are written and flushed before the
 * header points at it, and the old table is freed only afterwards. Allocation only raises
 * refcounts (cached); the L2 cache depends on this cache, so those reach the disk first.
 * <p>
 * Not thread-safe: the node's metadata lock guards every call.
 */
final class Refcounts {
    static final ValueLayout.OfLong BE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    static final long REFT_OFFSET_MASK = 0xffff_ffff_ffff_fe00L;

    private final BlockChild file;
    private final int clusterBits;
    private final long clusterSize;
    private final int refcountBits;
    private final long maxRefcount;
    /** Refcount entries per refcount block. */
    private final long perBlock;
    private final TableCache blocks;
    private final TableCache.FileSync sync;
    /** The refcount table; entries are host offsets of refcount blocks (0: none). */
    private long[] table;
    private long tableOffset;
    private int tableClusters;
    /** No cluster below this index is free (a search hint). */
    private long freeHint;
    /** Told of clusters freed (the compressed writer's cluster being filled). */
    private java.util.function.LongConsumer freedListener = c -> { };
    /** Clusters at and past this index were never written by us or anyone: they read as zeroes. */
    private long endCluster;

    Refcounts(BlockChild file, Qcow2Header h, long fileSize, int cacheTables, TableCache.FileSync sync)
            throws BlockIOException {
        this.file = file;
        this.clusterBits = h.clusterBits();
        this.clusterSize = h.clusterSize();
        this.refcountBits = h.refcountBits();
        this.maxRefcount = refcountBits == 64 ? Long.MAX_VALUE : (1L << refcountBits) - 1;
        this.perBlock = clusterSize * 8 / refcountBits;
        this.sync = sync;
        this.blocks = new TableCache("refcount block", file, (int) clusterSize, cacheTables, sync);
        this.tableOffset = h.refcountTableOffset();
        this.tableClusters = h.refcountTableClusters();
        long entries = (long) tableClusters * clusterSize / 8;
        if (entries > (1 << 24)) {
            throw new BlockIOException(Errno.EINVAL, "Reference count table too large");
        }
        this.table = new long[(int) entries];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(entries * 8);
            file.read(tableOffset, seg);
            for (int i = 0; i < entries; i++) {
                table[i] = seg.getAtIndex(BE64, i) & REFT_OFFSET_MASK;
            }
        }
        this.endCluster = (fileSize + clusterSize - 1) >>> clusterBits;
    }

    TableCache cache() {
        return blocks;
    }

    long tableOffset() {
        return tableOffset;
    }

    int tableClusters() {
        return tableClusters;
    }

    /** One past the last cluster the image uses or used. */
    long endCluster() {
        return endCluster;
    }

    /** The refcount of the cluster at host {@code offset}. */
    long get(long offset) throws BlockIOException {
        long cluster = offset >>> clusterBits;
        long rb = cluster / perBlock;
        if (rb >= table.length || table[(int) rb] == 0) {
            return 0;
        }
        return read(blocks.get(table[(int) rb]).data, cluster % perBlock);
    }

    private long read(MemorySegment b, long i) {
        return switch (refcountBits) {
            case 64 -> b.getAtIndex(BE64, i);
            case 32 -> Integer.toUnsignedLong(b.getAtIndex(BE32, i));
            case 16 -> Short.toUnsignedLong(b.getAtIndex(BE16, i));
            case 8 -> Byte.toUnsignedLong(b.get(ValueLayout.JAVA_BYTE, i));
            default -> {
                long perByte = 8 / refcountBits;
                int v = Byte.toUnsignedInt(b.get(ValueLayout.JAVA_BYTE, i / perByte));
                yield (v >>> ((i % perByte) * refcountBits)) & maxRefcount;
            }
        };
    }

    private void write(MemorySegment b, long i, long v) {
        writeEntry(b, refcountBits, i, v);
    }

    /** Sets entry {@code i} of refcount block {@code b} with {@code refcountBits}-bit entries to {@code v}. */
    static void writeEntry(MemorySegment b, int refcountBits, long i, long v) {
        long maxRefcount = refcountBits == 64 ? Long.MAX_VALUE : (1L << refcountBits) - 1;
        switch (refcountBits) {
            case 64 -> b.setAtIndex(BE64, i, v);
            case 32 -> b.setAtIndex(BE32, i, (int) v);
            case 16 -> b.setAtIndex(BE16, i, (short) v);
            case 8 -> b.set(ValueLayout.JAVA_BYTE, i, (byte) v);
            default -> {
                long perByte = 8 / refcountBits;
                int shift = (int) ((i % perByte) * refcountBits);
                int old = Byte.toUnsignedInt(b.get(ValueLayout.JAVA_BYTE, i / perByte));
                int nv = (old & ~((int) maxRefcount << shift)) | ((int) v << shift);
                b.set(ValueLayout.JAVA_BYTE, i / perByte, (byte) nv);
            }
        }
    }

    /** The largest refcount a cluster can have (2^refcount_bits - 1). */
    long maxRefcount() {
        return maxRefcount;
    }

    /** Calls {@code listener} with the host offset of every cluster whose refcount drops to zero. */
    void onFreed(java.util.function.LongConsumer listener) {
        this.freedListener = listener;
    }

    /** Adds {@code delta} to the refcount of {@code n} clusters from host {@code offset}; their blocks must exist. */
    void update(long offset, long n, long delta) throws BlockIOException {
        long first = offset >>> clusterBits;
        for (long c = first; c < first + n; c++) {
            long rb = c / perBlock;
            long blockOffset = rb < table.length ? table[(int) rb] : 0;
            if (blockOffset == 0) {
                if (delta < 0) {
                    throw corrupt("freeing cluster " + c + " whose refcount block does not exist");
                }
                ensureBlock(c);
                blockOffset = table[(int) rb];
            }
            TableCache.Table t = blocks.get(blockOffset);
            long old = read(t.data, c % perBlock);
            long nv = old + delta;
            if (nv < 0 || nv > maxRefcount) {
                throw corrupt("refcount of cluster " + c + " would become " + nv);
            }
            write(t.data, c % perBlock, nv);
            t.dirty = true;
            if (nv == 0 && c < freeHint) {
                freeHint = c;
            }
            if (nv == 0 && delta < 0) {
                freedListener.accept(c << clusterBits);
            }
        }
    }

    private BlockIOException corrupt(String what) {
        return new BlockIOException(Errno.EIO, "qcow2 image is corrupt: " + what);
    }

    /**
     * Allocates {@code n} contiguous clusters with refcount 1.
     *
     * @return the host offset of the first
     */
    long allocate(long n) throws BlockIOException {
        for (;;) {
            long start = findFree(n);
            if (ensureBlocks(start, n)) {
                continue; // new refcount blocks were placed: search again
            }
            update(start << clusterBits, n, 1);
            if (start + n > endCluster) {
                endCluster = start + n;
            }
            if (start == freeHint) {
                freeHint = start + n;
            }
            return start << clusterBits;
        }
    }

    /** Whether the cluster at {@code offset} is past every cluster ever used (reads as zeroes). */
    boolean isVirgin(long offset) {
        return (offset >>> clusterBits) >= endCluster;
    }

    /** The first run of {@code n} free clusters at or after the hint (possibly past the end). */
    private long findFree(long n) throws BlockIOException {
        while (freeHint < endCluster && get(freeHint << clusterBits) != 0) {
            freeHint++;
        }
        long start = freeHint;
        scan:
        for (;;) {
            for (long c = start; c < start + n; c++) {
                if (c >= endCluster) {
                    return start; // everything from here on is free
                }
                if (get(c << clusterBits) != 0) {
                    start = c + 1;
                    continue scan;
                }
            }
            return start;
        }
    }

    /** Makes sure refcount blocks cover clusters [start, start + n); true if any had to be created. */
    private boolean ensureBlocks(long start, long n) throws BlockIOException {
        boolean made = false;
        for (long rb = start / perBlock; rb <= (start + n - 1) / perBlock; rb++) {
            if (rb >= table.length || table[(int) rb] == 0) {
                ensureBlock(rb * perBlock);
                made = true;
            }
        }
        return made;
    }

    /**
     * Creates the refcount block covering {@code cluster}, at the end of the image. The new
     * block's own refcount goes into itself when it covers its own position, else into the block
     * that does (made first when missing). Every changed block is written before the table entry
     * points at the new one. When the table is too small, it grows first.
     */
    private void ensureBlock(long cluster) throws BlockIOException {
        long rb = cluster / perBlock;
        if (rb >= table.length) {
            growTable(rb);
            if (table[(int) rb] != 0) {
                return; // the growth placed this block
            }
        }
        long at = endCluster;
        long atBlock = at / perBlock;
        if (atBlock != rb && (atBlock >= table.length || table[(int) atBlock] == 0)) {
            ensureBlock(at); // the block that will count the new one comes first
            if (table[(int) rb] != 0) {
                return;
            }
            at = endCluster;
            atBlock = at / perBlock;
        }
        long offset = at << clusterBits;
        if (atBlock != rb) {
            TableCache.Table counting = blocks.get(table[(int) atBlock]);
            write(counting.data, at % perBlock, read(counting.data, at % perBlock) + 1);
            counting.dirty = true;
        }
        TableCache.Table t = blocks.create(offset);
        endCluster = at + 1;
        if (atBlock == rb) {
            write(t.data, at % perBlock, 1);
        }
        blocks.writeBack(); // the new block and its count are on disk before the table entry points at it
        setTableEntry((int) rb, offset);
    }

    private void setTableEntry(int rb, long offset) throws BlockIOException {
        table[rb] = offset;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment e = a.allocate(8);
            e.set(BE64, 0, offset);
            file.write(tableOffset + rb * 8L, e, Set.of());
        }
    }

    /**
     * Grows the refcount table to cover block index {@code needed}: new blocks for the new
     * table's own clusters and the table are placed at the end of the image, written and
     * flushed; then the header points at the new table; then the old table is freed.
     */
    private void growTable(long needed) throws BlockIOException {
        long e = endCluster;
        long entries = Math.max(needed + 1, (long) table.length * 2);
        List<Long> newBlocks = new ArrayList<>();
        long tc;
        for (;;) {
            tc = (entries * 8 + clusterSize - 1) / clusterSize;
            long last = e + newBlocks.size() + tc - 1;
            entries = Math.max(entries, last / perBlock + 1);
            long tcAgain = (entries * 8 + clusterSize - 1) / clusterSize;
            List<Long> missing = new ArrayList<>();
            for (long rb = e / perBlock; rb <= last / perBlock; rb++) {
                if (rb >= table.length || table[(int) rb] == 0) {
                    missing.add(rb);
                }
            }
            if (missing.size() == newBlocks.size() && tcAgain == tc) {
                newBlocks = missing;
                break;
            }
            newBlocks = missing;
        }
        if (entries > (1 << 24)) {
            throw new BlockIOException(Errno.EFBIG, "qcow2 refcount table would exceed its limit");
        }
        entries = tc * clusterSize / 8;
        long[] grown = java.util.Arrays.copyOf(table, (int) entries);
        long blocksStart = e;
        long tableStart = e + newBlocks.size();
        for (int i = 0; i < newBlocks.size(); i++) {
            grown[(int) (long) newBlocks.get(i)] = (blocksStart + i) << clusterBits;
        }
        long[] old = table;
        long oldOffset = tableOffset;
        int oldClusters = tableClusters;
        // new blocks: zeroed, then count every new cluster (blocks and table) in whichever block covers it
        for (int i = 0; i < newBlocks.size(); i++) {
            blocks.create((blocksStart + i) << clusterBits);
        }
        table = grown;
        for (long c = blocksStart; c < tableStart + tc; c++) {
            TableCache.Table t = blocks.get(table[(int) (c / perBlock)]);
            write(t.data, c % perBlock, 1);
            t.dirty = true;
        }
        blocks.writeBack();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(tc * clusterSize);
            for (int i = 0; i < grown.length; i++) {
                seg.setAtIndex(BE64, i, grown[i]);
            }
            file.write(tableStart << clusterBits, seg, Set.of());
            sync.sync();
            MemorySegment hdr = a.allocate(12);
            hdr.set(BE64, 0, tableStart << clusterBits);
            hdr.set(BE32, 8, (int) tc);
            file.write(Qcow2Header.OFF_REFCOUNT_TABLE, hdr, Set.of());
            sync.sync();
        } catch (BlockIOException ex) {
            table = old; // the header still points at the old table: the new clusters merely leak
            throw ex;
        }
        tableOffset = tableStart << clusterBits;
        tableClusters = (int) tc;
        endCluster = Math.max(endCluster, tableStart + tc);
        update(oldOffset, oldClusters, -1);
    }

    /** Writes dirty refcount blocks. */
    void writeBack() throws BlockIOException {
        blocks.writeBack();
    }

    void close() {
        blocks.close();
    }
}
