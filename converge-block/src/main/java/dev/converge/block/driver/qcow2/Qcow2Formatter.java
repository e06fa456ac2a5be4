package dev.converge.block.driver.qcow2;

import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.DrainedSection;
import dev.converge.block.driver.OpenException;
import dev.converge.block.driver.PreallocMode;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.Set;

/**
 * Writes a new, empty qcow2 image onto a node (blockdev-create's {@code qcow2} driver, QEMU's
 * qcow2_co_create): checks the options with QEMU's texts and in QEMU's order, then lays the
 * image out as QEMU does, cluster 0 the header, then the refcount table, the refcount blocks
 * and the L1 table; with preallocation, the L2 tables and data clusters of the whole disk
 * follow (metadata: mapped but never written, the file stays sparse; falloc and full also
 * reserve the data's space).
 */
public final class Qcow2Formatter {
    /** QEMU's MIN_CLUSTER_BITS and MAX_CLUSTER_BITS. */
    static final int MIN_CLUSTER_BITS = 9;
    static final int MAX_CLUSTER_BITS = 21;
    /** The smallest cluster size with extended L2 entries (32 subclusters of 512 bytes). */
    static final long MIN_EXTL2_CLUSTER = 16384;

    private Qcow2Formatter() {
    }

    /**
     * What the new image looks like (BlockdevCreateOptionsQcow2 after defaults).
     *
     * @param version       2 (v2, compat 0.10) or 3 (v3, compat 1.1)
     * @param size          virtual size in bytes
     * @param clusterSize   bytes per cluster
     * @param extendedL2    32 subclusters per cluster
     * @param lazyRefcounts set the lazy refcounts compatible bit
     * @param refcountBits  refcount width in bits
     * @param backingFile   the backing file name stored in the image
     * @param backingFormat the backing format stored with it
     * @param prealloc      what is preallocated
     */
    public record Format(int version, long size, long clusterSize, boolean extendedL2, boolean lazyRefcounts,
            int refcountBits, Optional<String> backingFile, Optional<String> backingFormat, PreallocMode prealloc) {
    }

    /**
     * QEMU's checks of qcow2_co_create, in its order.
     *
     * @throws OpenException with QEMU's text
     */
    public static void validate(Format f) throws OpenException {
        if (f.size() % 512 != 0) {
            throw new OpenException("Image size must be a multiple of 512 bytes");
        }
        if (f.extendedL2() && f.version() < 3) {
            throw new OpenException("Extended L2 entries are only supported with compatibility level 1.1 and above "
                    + "(use version=v3 or greater)");
        }
        long cs = f.clusterSize();
        if (cs < (1L << MIN_CLUSTER_BITS) || cs > (1L << MAX_CLUSTER_BITS) || Long.bitCount(cs) != 1) {
            throw new OpenException("Cluster size must be a power of two between " + (1 << MIN_CLUSTER_BITS) + " and "
                    + (1 << (MAX_CLUSTER_BITS - 10)) + "k");
        }
        if (f.extendedL2() && cs < MIN_EXTL2_CLUSTER) {
            throw new OpenException("Extended L2 entries are only supported with cluster sizes of at least "
                    + MIN_EXTL2_CLUSTER + " bytes");
        }
        if (f.backingFile().isPresent() && f.prealloc() != PreallocMode.OFF && !f.extendedL2()) {
            throw new OpenException("Backing file and preallocation can only be used at the same time if extended_l2 "
                    + "is on");
        }
        if (f.backingFormat().isPresent() && f.backingFile().isEmpty()) {
            throw new OpenException("Backing format cannot be used without backing file");
        }
        if (f.version() < 3 && f.lazyRefcounts()) {
            throw new OpenException("Lazy refcounts only supported with compatibility level 1.1 and above "
                    + "(use version=v3 or greater)");
        }
        if (f.refcountBits() > 64 || f.refcountBits() < 1 || Integer.bitCount(f.refcountBits()) != 1) {
            throw new OpenException("Refcount width must be a power of two and may not exceed 64 bits");
        }
        if (f.version() < 3 && f.refcountBits() != 16) {
            throw new OpenException("Different refcount widths than 16 bits require compatibility level 1.1 or above "
                    + "(use version=v3 or greater)");
        }
        if (f.backingFile().isPresent()) {
            int at = Qcow2Header.backingFileNameOffset(f.version(), f.backingFormat());
            if (at + f.backingFile().get().getBytes(StandardCharsets.UTF_8).length > cs) {
                throw new OpenException("Could not assign backing file '" + f.backingFile().get() + "' with format '"
                        + f.backingFormat().orElse("") + "'");
            }
        }
    }

    /**
     * Where everything goes, in clusters.
     *
     * @param refTable     first cluster of the refcount table
     * @param refTableLen  its clusters
     * @param refBlocks    first refcount block
     * @param refBlockLen  refcount blocks
     * @param l1           first cluster of the L1 table (0 when the disk is empty)
     * @param l1Entries    entries of the L1 table
     * @param l1Len        its clusters
     * @param l2           first L2 table (preallocation only)
     * @param l2Len        L2 tables (preallocation only, else 0)
     * @param data         first data cluster (preallocation only)
     * @param dataLen      data clusters (preallocation only, else 0)
     * @param total        clusters of the whole file
     */
    record Layout(long refTable, long refTableLen, long refBlocks, long refBlockLen, long l1, long l1Entries,
            long l1Len, long l2, long l2Len, long data, long dataLen, long total) {
    }

    static Layout layout(Format f) {
        long cs = f.clusterSize();
        long l2Entries = cs / (f.extendedL2() ? 16 : 8);
        long dataClusters = (f.size() + cs - 1) / cs;
        long l1Entries = (dataClusters + l2Entries - 1) / l2Entries;
        long l1Len = (l1Entries * 8 + cs - 1) / cs;
        boolean prealloc = f.prealloc() != PreallocMode.OFF;
        long l2Len = prealloc ? l1Entries : 0;
        long dataLen = prealloc ? dataClusters : 0;
        long perBlock = cs * 8 / f.refcountBits();
        long rt = 1;
        long rb = 1;
        for (;;) {
            long total = 1 + rt + rb + l1Len + l2Len + dataLen;
            long nrb = (total + perBlock - 1) / perBlock;
            long nrt = Math.max(1, (nrb * 8 + cs - 1) / cs);
            if (nrb == rb && nrt == rt) {
                long l1 = 1 + rt + rb;
                return new Layout(1, rt, 1 + rt, rb, l1Len == 0 ? 0 : l1, l1Entries, l1Len, l1 + l1Len, l2Len,
                        l1 + l1Len + l2Len, dataLen, total);
            }
            rb = nrb;
            rt = nrt;
        }
    }

    /**
     * Makes {@code file} the new image: empties it, grows it to the layout's size and writes the
     * metadata, then flushes. Runs on the creating job's thread; nothing else may use the node.
     *
     * @throws OpenException with the failing step and its cause
     */
    public static void format(BlockNode file, Format f) throws OpenException {
        validate(f);
        Layout l = layout(f);
        long cs = f.clusterSize();
        int clusterBits = Long.numberOfTrailingZeros(cs);
        try {
            try (DrainedSection d = file.drain()) {
                file.resize(0);
                file.resize(l.total() * cs);
            }
        } catch (BlockIOException e) {
            throw new OpenException("Could not resize image: " + e.getMessage());
        }
        Optional<String> backing = f.backingFile();
        long nameAt = backing.isPresent() ? Qcow2Header.backingFileNameOffset(f.version(), f.backingFormat()) : 0;
        int nameLen = backing.map(b -> b.getBytes(StandardCharsets.UTF_8).length).orElse(0);
        Qcow2Header h = Qcow2Header.fresh(f.version(), clusterBits, f.size(), (int) l.l1Entries(), l.l1() * cs,
                l.refTable() * cs, (int) l.refTableLen(), f.extendedL2(), f.lazyRefcounts(),
                Integer.numberOfTrailingZeros(f.refcountBits()), nameAt, nameLen,
                backing.isPresent() ? f.backingFormat() : Optional.empty());
        try (Arena a = Arena.ofConfined()) {
            file.write(0, MemorySegment.ofBuffer(h.encode(backing)), Set.of());
            writeRefcounts(file, f, l, a);
            if (l.l1Len() > 0) {
                MemorySegment l1 = a.allocate(l.l1Len() * cs);
                for (long i = 0; i < l.l2Len(); i++) {
                    l1.setAtIndex(Refcounts.BE64, i, ((l.l2() + i) * cs) | L2Entry.COPIED);
                }
                file.write(l.l1() * cs, l1, Set.of());
            }
            writeL2Tables(file, f, l, a);
            if (f.prealloc() == PreallocMode.FALLOC || f.prealloc() == PreallocMode.FULL) {
                // writing zeroes without unmapping allocates the blocks (ZERO_RANGE or zero buffers)
                file.writeZeroes(l.data() * cs, l.dataLen() * cs, Set.of());
            }
            file.flush();
        } catch (BlockIOException e) {
            throw new OpenException("Could not write qcow2 image: " + e.getMessage());
        }
    }

    private static void writeRefcounts(BlockNode file, Format f, Layout l, Arena a) throws BlockIOException {
        long cs = f.clusterSize();
        long perBlock = cs * 8 / f.refcountBits();
        MemorySegment table = a.allocate(l.refTableLen() * cs);
        for (long i = 0; i < l.refBlockLen(); i++) {
            table.setAtIndex(Refcounts.BE64, i, (l.refBlocks() + i) * cs);
        }
        file.write(l.refTable() * cs, table, Set.of());
        MemorySegment block = a.allocate(cs);
        for (long b = 0; b < l.refBlockLen(); b++) {
            block.fill((byte) 0);
            long first = b * perBlock;
            for (long c = first; c < Math.min(l.total(), first + perBlock); c++) {
                Refcounts.writeEntry(block, f.refcountBits(), c - first, 1);
            }
            file.write((l.refBlocks() + b) * cs, block, Set.of());
        }
    }

    /**
     * Preallocation: every guest cluster mapped to its data cluster. With a backing file (only
     * with extended L2) the subclusters stay unallocated, so reads still go to the backing file.
     */
    private static void writeL2Tables(BlockNode file, Format f, Layout l, Arena a) throws BlockIOException {
        if (l.l2Len() == 0) {
            return;
        }
        long cs = f.clusterSize();
        int entryBytes = f.extendedL2() ? 16 : 8;
        long perTable = cs / entryBytes;
        long bitmap = f.backingFile().isPresent() ? 0 : L2Entry.ALL_ALLOCATED;
        MemorySegment table = a.allocate(cs);
        for (long t = 0; t < l.l2Len(); t++) {
            table.fill((byte) 0);
            for (long i = 0; i < perTable; i++) {
                long guest = t * perTable + i;
                if (guest >= l.dataLen()) {
                    break;
                }
                table.set(Refcounts.BE64, i * entryBytes, ((l.data() + guest) * cs) | L2Entry.COPIED);
                if (f.extendedL2()) {
                    table.set(Refcounts.BE64, i * entryBytes + 8, bitmap);
                }
            }
            file.write((l.l2() + t) * cs, table, Set.of());
        }
    }
}
