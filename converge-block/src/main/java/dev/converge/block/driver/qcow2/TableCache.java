package dev.converge.block.driver.qcow2;

import dev.converge.block.BlockChild;
import dev.converge.block.BlockIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A write-back, least-recently-used cache of cluster-sized metadata tables (L2 tables or
 * refcount blocks), keyed by host offset.
 * <p>
 * Crash safety comes from one rule, QEMU's cache dependency: before this cache writes any dirty
 * table, its {@linkplain #dependOn dependency} (the refcount cache, for the L2 cache) is written
 * and the file flushed. So an L2 entry never reaches the disk before the refcount that accounts
 * for the cluster it points to; a crash leaves at most leaked clusters.
 * <p>
 * Not thread-safe: the node's metadata lock guards every call. Table memory is pooled, so a
 * miss that evicts allocates nothing.
 */
final class TableCache {
    /** A cached table: its host offset, its bytes, and whether they differ from the disk. */
    static final class Table {
        long offset;
        final MemorySegment data;
        boolean dirty;

        Table(MemorySegment data) {
            this.data = data;
        }
    }

    private final String what;
    private final BlockChild file;
    private final int clusterSize;
    private final int capacity;
    private final Arena arena = Arena.ofShared();
    private final LinkedHashMap<Long, Table> tables = new LinkedHashMap<>(16, 0.75f, true);
    private final ArrayDeque<Table> pool = new ArrayDeque<>();
    private TableCache dependency;
    /** Flushes the file between writing the dependency and this cache's tables. */
    private final FileSync sync;
    private long hits;
    private long misses;

    /** Makes written data durable (the file's flush; nothing with cache.no-flush). */
    @FunctionalInterface
    interface FileSync {
        void sync() throws BlockIOException;
    }

    TableCache(String what, BlockChild file, int clusterSize, int capacity, FileSync sync) {
        this.what = what;
        this.file = file;
        this.clusterSize = clusterSize;
        this.capacity = Math.max(2, capacity);
        this.sync = sync;
    }

    /** Tables of this cache are written only after {@code other}'s dirty tables are on disk. */
    void dependOn(TableCache other) {
        this.dependency = other;
    }

    /** The table at {@code offset}, read from the file on a miss. */
    Table get(long offset) throws BlockIOException {
        Table t = tables.get(offset);
        if (t != null) {
            hits++;
            return t;
        }
        misses++;
        t = take();
        try {
            file.read(offset, t.data);
        } catch (BlockIOException e) {
            pool.push(t);
            throw new BlockIOException(e.kind(), "reading " + what + " at " + offset + ": " + e.getMessage(), e);
        }
        t.offset = offset;
        t.dirty = false;
        tables.put(offset, t);
        return t;
    }

    /** A new all-zero table at {@code offset} (a cluster just allocated), dirty. */
    Table create(long offset) throws BlockIOException {
        Table t = tables.get(offset);
        if (t == null) {
            t = take();
            t.offset = offset;
            tables.put(offset, t);
        }
        t.data.fill((byte) 0);
        t.dirty = true;
        return t;
    }

    /** Forgets the table at {@code offset} without writing it (its cluster was freed). */
    void forget(long offset) {
        Table t = tables.remove(offset);
        if (t != null) {
            pool.push(t);
        }
    }

    boolean hasDirty() {
        for (Table t : tables.values()) {
            if (t.dirty) {
                return true;
            }
        }
        return false;
    }

    /** Writes every dirty table (after the dependency's). Does not flush the file itself. */
    void writeBack() throws BlockIOException {
        if (!hasDirty()) {
            return;
        }
        writeDependency();
        for (Table t : tables.values()) {
            if (t.dirty) {
                write(t);
            }
        }
    }

    /** Writes one table now (after the dependency's), e.g. a new L2 table before the L1 entry that points at it. */
    void writeBack(Table t) throws BlockIOException {
        if (t.dirty) {
            writeDependency();
            write(t);
        }
    }

    private void writeDependency() throws BlockIOException {
        if (dependency != null && dependency.hasDirty()) {
            dependency.writeBack();
            sync.sync();
        }
    }

    private void write(Table t) throws BlockIOException {
        try {
            file.write(t.offset, t.data, java.util.Set.of());
        } catch (BlockIOException e) {
            throw new BlockIOException(e.kind(), "writing " + what + " at " + t.offset + ": " + e.getMessage(), e);
        }
        t.dirty = false;
    }

    /** A free table buffer: from the pool, new while under capacity, else the least recently used one, written back. */
    private Table take() throws BlockIOException {
        if (!pool.isEmpty()) {
            return pool.pop();
        }
        if (tables.size() < capacity) {
            return new Table(arena.allocate(clusterSize, 4096));
        }
        Iterator<Map.Entry<Long, Table>> it = tables.entrySet().iterator();
        Table victim = it.next().getValue();
        if (victim.dirty) {
            writeDependency();
            write(victim);
        }
        it.remove();
        return victim;
    }

    long hits() {
        return hits;
    }

    long misses() {
        return misses;
    }

    /** Drops every table (after a write-back) and frees the memory. */
    void close() {
        tables.clear();
        pool.clear();
        arena.close();
    }
}
