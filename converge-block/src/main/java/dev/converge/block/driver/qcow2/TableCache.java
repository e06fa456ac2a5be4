package dev.converge.block.driver.qcow2;

import dev.converge.block.BlockChild;
import dev.converge.block.BlockIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;

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
 * <p>
 * Readers without the lock: a {@link Table} reference may be read by a thread that holds no lock
 * (the node's lock-free mapping), while the lock holder changes the table's entries, evicts it or
 * reuses its memory for another table. Every such change happens between {@link Table#beginChange}
 * and {@link Table#endChange} (a sequence lock per table: the stamp is odd while it changes), so a
 * lock-free reader takes {@link Table#stamp}, checks the table's {@link Table#offset}, reads its
 * entries and keeps what it read only if {@link Table#unchangedSince} holds. Lock-free hits mark
 * the table {@link Table#used}; eviction gives such a table a second chance (CLOCK over the LRU
 * order), since those hits do not move it in the LRU order.
 */
final class TableCache {
    /** A cached table: its host offset, its bytes, and whether they differ from the disk. */
    static final class Table {
        private static final VarHandle STAMP;

        static {
            try {
                STAMP = MethodHandles.lookup().findVarHandle(Table.class, "stamp", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        /** Host offset of the table; -1 while the memory holds no table. Changed only between begin/endChange. */
        long offset = -1;
        final MemorySegment data;
        /** Guarded by the node's metadata lock. */
        boolean dirty;
        /** Set by lock-free hits (racy on purpose: a hint), cleared by eviction's second chance. */
        boolean used;
        /** Even while stable, odd while the lock holder changes offset or data; accessed through STAMP. */
        @SuppressWarnings("unused")
        private int stamp;

        Table(MemorySegment data) {
            this.data = data;
        }

        /** Lock holder: the entries or the offset are about to change. */
        void beginChange() {
            STAMP.setOpaque(this, (int) STAMP.getOpaque(this) + 1);
            VarHandle.releaseFence(); // the odd stamp is visible before any changed byte
        }

        /** Lock holder: the change is complete. */
        void endChange() {
            STAMP.setRelease(this, (int) STAMP.getOpaque(this) + 1);
        }

        /** Lock-free reader: the stamp before reading; odd means a change is in progress (do not read). */
        int stamp() {
            return (int) STAMP.getAcquire(this);
        }

        /** Lock-free reader: whether nothing changed since {@code stamp} (what was read in between is consistent). */
        boolean unchangedSince(int stamp) {
            VarHandle.acquireFence(); // the reads of the entries happen before the stamp is read again
            return (stamp & 1) == 0 && (int) STAMP.getOpaque(this) == stamp;
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
        t.beginChange();
        try {
            t.offset = -1;
            file.read(offset, t.data);
            t.offset = offset;
        } catch (BlockIOException e) {
            pool.push(t);
            throw new BlockIOException(e.kind(), "reading " + what + " at " + offset + ": " + e.getMessage(), e);
        } finally {
            t.endChange();
        }
        t.dirty = false;
        t.used = false;
        tables.put(offset, t);
        return t;
    }

    /** A new all-zero table at {@code offset} (a cluster just allocated), dirty. */
    Table create(long offset) throws BlockIOException {
        Table t = tables.get(offset);
        if (t == null) {
            t = take();
            tables.put(offset, t);
        }
        t.beginChange();
        t.offset = offset;
        t.data.fill((byte) 0);
        t.endChange();
        t.dirty = true;
        return t;
    }

    /** Forgets the table at {@code offset} without writing it (its cluster was freed). */
    void forget(long offset) {
        Table t = tables.remove(offset);
        if (t != null) {
            t.beginChange();
            t.offset = -1;
            t.endChange();
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

    /**
     * A free table buffer: from the pool, new while under capacity, else the least recently used
     * one not {@linkplain Table#used used} since it was last passed over, written back. The caller
     * changes it between begin/endChange.
     */
    private Table take() throws BlockIOException {
        if (!pool.isEmpty()) {
            return pool.pop();
        }
        if (tables.size() < capacity) {
            return new Table(arena.allocate(clusterSize, 4096));
        }
        Table victim = tables.firstEntry().getValue();
        for (int passed = 0; victim.used && passed < tables.size(); passed++) {
            victim.used = false; // second chance: to the most recent end
            tables.get(victim.offset);
            victim = tables.firstEntry().getValue();
        }
        if (victim.dirty) {
            writeDependency();
            write(victim);
        }
        tables.remove(victim.offset);
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
