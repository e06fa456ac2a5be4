package dev.converge.block.bitmap;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * A dirty bitmap of a block node: which byte ranges were written since it was created or last
 * reset, at a granularity (a power of two, at least 512 bytes). Set from the write path of its
 * node on any thread without a lock; read and reset by its user (a mirror, a backup, the user).
 * <p>
 * A bitmap with a name is the user's ({@code block-dirty-bitmap-add}); an anonymous one belongs
 * to a job. A {@linkplain #busy() busy} bitmap is in use by a job and refused to QMP commands
 * that change it. Disabled bitmaps do not record writes. {@link #check} is QEMU's
 * bdrv_dirty_bitmap_check: the one place that refuses a use, with QEMU's texts.
 * <p>
 * A bitmap may have a {@linkplain #successor() successor} (QEMU's frozen state, made by
 * {@link NodeBitmaps#createSuccessor}): while a job reads the bitmap, new writes go to the
 * successor, which is folded back in when the job ends.
 * <p>
 * Threads: bits are set from any thread without a lock; flags are volatile, changed on the main
 * loop; {@link #beginChange} and its {@link Change} (transaction undo) run on the main loop.
 */
public final class DirtyBitmap {
    /** QEMU's smallest granularity (BDRV_SECTOR_SIZE). */
    public static final long MIN_GRANULARITY = 512;
    /** QEMU's largest granularity. */
    public static final long MAX_GRANULARITY = 1L << 31;

    private final String name;
    private final long granularity;
    private final int shift;
    /** Size of the node in bytes when the bitmap was made. */
    private final long length;
    /**
     * The bits. Replaced (never changed back) only by {@link Change#rollback}, on the main loop;
     * volatile so that a writer notices the swap (see {@link #setDirty}).
     */
    private volatile HBitmap bits;
    /** Whether writes are recorded. Volatile: read by every write, changed by its owner. */
    private volatile boolean enabled = true;
    /** Whether a job uses it (QMP refuses to touch it). Volatile: set on the main loop, read anywhere. */
    private volatile boolean busy;
    /** Stored in the image (qcow2 bitmaps extension). Volatile: set on the main loop, read anywhere. */
    private volatile boolean persistent;
    /**
     * Loaded from an image that was not closed cleanly: its bits cannot be trusted, it may only be
     * removed (QEMU's inconsistent). Volatile: set on the main loop.
     */
    private volatile boolean inconsistent;
    /** Loaded from a read-only image: not to be modified. Volatile: set on the main loop. */
    private volatile boolean readonly;
    /** The anonymous bitmap new writes go to while this one is frozen; main loop writes, volatile. */
    private volatile DirtyBitmap successor;
    /** Writes since the outermost open {@link Change} began, or null; volatile, set on the main loop. */
    private volatile HBitmap journal;
    /** Open changes (nested in one transaction). Main loop only. */
    private int openChanges;

    /**
     * @param name        the user-visible name, or null for an anonymous bitmap
     * @param granularity bytes per bit: a power of two in [{@value #MIN_GRANULARITY}, 2^31]
     * @param length      bytes covered (the node's size)
     */
    public DirtyBitmap(String name, long granularity, long length) {
        if (!isValidGranularity(granularity)) {
            throw new IllegalArgumentException("granularity " + granularity);
        }
        if (length < 0) {
            throw new IllegalArgumentException("length " + length);
        }
        this.name = name;
        this.granularity = granularity;
        this.shift = Long.numberOfTrailingZeros(granularity);
        this.length = length;
        this.bits = new HBitmap((length + granularity - 1) >>> shift);
    }

    /** Whether {@code g} is a granularity QEMU accepts. */
    public static boolean isValidGranularity(long g) {
        return g >= MIN_GRANULARITY && g <= MAX_GRANULARITY && Long.bitCount(g) == 1;
    }

    /** The name, or null when anonymous. */
    public String name() {
        return name;
    }

    public long granularity() {
        return granularity;
    }

    /** Bytes covered. */
    public long length() {
        return length;
    }

    public boolean enabled() {
        return enabled;
    }

    /** Starts or stops recording writes. */
    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    public boolean busy() {
        return busy;
    }

    /**
     * Marks the bitmap in use by an operation (a job, an NBD export): QMP refuses to change it
     * ({@link Use#BUSY}). Main loop; the user sets it back when done.
     */
    public void setBusy(boolean busy) {
        this.busy = busy;
    }

    public boolean persistent() {
        return persistent;
    }

    /** Whether the bitmap is to be stored in its node's image. Main loop. */
    public void setPersistent(boolean persistent) {
        this.persistent = persistent;
    }

    public boolean inconsistent() {
        return inconsistent;
    }

    /** Marks a persistent bitmap found in use in its image: untrusted, disabled, only removable. */
    public void setInconsistent() {
        this.inconsistent = true;
        this.enabled = false;
    }

    public boolean readonly() {
        return readonly;
    }

    public void setReadonly(boolean readonly) {
        this.readonly = readonly;
    }

    /** The successor new writes go to while this bitmap is frozen, or null. */
    public DirtyBitmap successor() {
        return successor;
    }

    void setSuccessor(DirtyBitmap successor) {
        this.successor = successor;
    }

    /**
     * Whether writes are recorded: by this bitmap itself, or by its enabled successor (QEMU's
     * "recording" in query-block).
     */
    public boolean recording() {
        DirtyBitmap s = successor;
        return enabled || (s != null && s.enabled);
    }

    /** What a use of a bitmap may be refused for (QEMU's BitmapCheckFlags). */
    public enum Use {
        /** In use by an operation (busy, or frozen with a successor). */
        BUSY,
        /** Loaded from a read-only image. */
        READONLY,
        /** Found in use in its image after an unclean close. */
        INCONSISTENT;

        /** Changing the bits (clear, merge into): QEMU's BDRV_BITMAP_DEFAULT. */
        public static final Set<Use> MODIFY = EnumSet.allOf(Use.class);
        /** Enabling, disabling, exporting: QEMU's BDRV_BITMAP_ALLOW_RO. */
        public static final Set<Use> ALLOW_READONLY = EnumSet.of(BUSY, INCONSISTENT);
    }

    /**
     * Refuses a use of this bitmap as QEMU's bdrv_dirty_bitmap_check does, checking the flags in
     * {@code refuseWhen} in QEMU's order (busy, read-only, inconsistent).
     *
     * @throws BitmapException with QEMU's text, e.g. "Bitmap 'b' is currently in use by another
     *                         operation and cannot be used"
     */
    public void check(Set<Use> refuseWhen) throws BitmapException {
        if (refuseWhen.contains(Use.BUSY) && busy) {
            throw new BitmapException("Bitmap '" + name + "' is currently in use by another operation and cannot be used");
        }
        if (refuseWhen.contains(Use.READONLY) && readonly) {
            throw new BitmapException("Bitmap '" + name + "' is readonly and cannot be modified");
        }
        if (refuseWhen.contains(Use.INCONSISTENT) && inconsistent) {
            throw new BitmapException("Bitmap '" + name + "' is inconsistent and cannot be used");
        }
    }

    /** Marks bytes [offset, offset + bytes) dirty (clipped to the bitmap), whether enabled or not. */
    public void setDirty(long offset, long bytes) {
        long[] r = chunks(offset, bytes);
        if (r != null) {
            // Order matters for Change: bits, then the journal, then the bits again if a rollback
            // swapped them meanwhile. A rollback copies the journal after the swap, so a write
            // lands in the new bits either through the journal or through the second set.
            HBitmap b = bits;
            b.set(r[0], r[1]);
            HBitmap j = journal;
            if (j != null) {
                j.set(r[0], r[1]);
            }
            HBitmap now = bits;
            if (now != b) {
                now.set(r[0], r[1]);
            }
        }
    }

    /** Marks the range dirty if the bitmap is enabled: the write path calls this. */
    public void recordWrite(long offset, long bytes) {
        if (enabled) {
            setDirty(offset, bytes);
        }
    }

    /**
     * Clears the chunks that lie wholly inside [offset, offset + bytes); a chunk only partly
     * covered stays dirty (as QEMU does, so that no dirty byte is forgotten). The last chunk
     * counts as wholly covered when the range reaches the end of the bitmap.
     */
    public void resetDirty(long offset, long bytes) {
        checkRange(offset, bytes);
        long end = offset + bytes;
        long first = (offset + granularity - 1) >>> shift;
        long lastExcl = end >= length ? (length + granularity - 1) >>> shift : end >>> shift;
        if (lastExcl > first) {
            bits.reset(first, lastExcl - first);
        }
    }

    /** Clears everything (block-dirty-bitmap-clear). */
    public void clear() {
        bits.clear();
    }

    /** Whether any byte of [offset, offset + bytes) is dirty. */
    public boolean isDirty(long offset, long bytes) {
        long[] r = chunks(offset, bytes);
        if (r == null) {
            return false;
        }
        long n = bits.nextSet(r[0]);
        return n >= 0 && n < r[0] + r[1];
    }

    /** Byte offset of the first dirty chunk at or after the chunk holding {@code offset}, or -1. */
    public long nextDirty(long offset) {
        if (offset < 0) {
            throw new IllegalArgumentException("offset " + offset);
        }
        if (offset >= length) {
            return -1;
        }
        long b = bits.nextSet(offset >>> shift);
        return b < 0 ? -1 : Math.max(offset, b << shift);
    }

    /** Byte offset of the first clean byte at or after {@code offset}, or -1 when all dirty to the end. */
    public long nextClean(long offset) {
        if (offset < 0) {
            throw new IllegalArgumentException("offset " + offset);
        }
        if (offset >= length) {
            return -1;
        }
        long b = bits.nextClear(offset >>> shift);
        return b < 0 ? -1 : Math.max(offset, b << shift);
    }

    /** Dirty bytes (whole chunks, the last one clipped to the length): QEMU's "count". */
    public long dirtyBytes() {
        HBitmap b = bits;
        long c = b.count() << shift;
        long lastChunk = b.size() - 1;
        if (lastChunk >= 0 && (length & (granularity - 1)) != 0 && b.get(lastChunk)) {
            c -= granularity - (length & (granularity - 1));
        }
        return c;
    }

    /** Number of dirty chunks. */
    public long dirtyChunks() {
        return bits.count();
    }

    /**
     * Marks dirty every byte that is dirty in {@code src} (QEMU's merge: a chunk of this bitmap
     * becomes dirty when any byte of it is dirty in {@code src}, whatever the granularities).
     *
     * @throws BitmapException when the sizes differ (QEMU's text)
     */
    public void merge(DirtyBitmap src) throws BitmapException {
        if (src.length != length) {
            throw new BitmapException("Bitmaps are of different sizes (destination size is " + length
                    + ", source size is " + src.length + ") and can't be merged");
        }
        for (Range r : src.dirtyRanges(0, length)) {
            long[] c = chunks(r.offset(), r.length());
            bits.set(c[0], c[1]); // not journaled: a rollback drops them
        }
    }

    /** A dirty byte range. */
    public record Range(long offset, long length) {
        public long end() {
            return offset + length;
        }
    }

    /**
     * The dirty ranges of [offset, offset + bytes), in order, whole chunks clipped to the range
     * and to the bitmap's length, adjacent chunks joined. A snapshot: writes that land meanwhile
     * may or may not show.
     */
    public List<Range> dirtyRanges(long offset, long bytes) {
        checkRange(offset, bytes);
        long end = Math.min(offset + bytes, length);
        List<Range> out = new ArrayList<>();
        long pos = offset;
        while (pos < end) {
            long d = nextDirty(pos);
            if (d < 0 || d >= end) {
                break;
            }
            long c = nextClean(d);
            long stop = c < 0 ? end : Math.min(c, end);
            out.add(new Range(d, stop - d));
            pos = stop;
        }
        return out;
    }

    /**
     * Starts a change of the bits that may have to be undone (a transaction action's prepare,
     * before it clears or merges): remembers the bits and, from now on, every write. Changes nest
     * (several actions of one transaction on one bitmap); they end in reverse order. Main loop.
     */
    public Change beginChange() {
        HBitmap b = bits;
        if (openChanges++ == 0) {
            // The journal exists before the bits are copied: a write is in the copy or in it.
            journal = new HBitmap(b.size());
        }
        HBitmap before = new HBitmap(b.size());
        copyInto(b, before);
        return new Change(before);
    }

    /** A change begun by {@link #beginChange}: exactly one of commit or rollback. Main loop. */
    public final class Change {
        private final HBitmap before;
        private boolean ended;

        private Change(HBitmap before) {
            this.before = before;
        }

        /** Keeps the change. */
        public void commit() {
            end();
        }

        /**
         * Undoes the change: the bits are again those from before it, plus every write since it
         * began (a write is never forgotten; nested in another change, also the writes since that
         * one began, which its own rollback keeps anyway).
         */
        public void rollback() {
            HBitmap restored = new HBitmap(before.size());
            copyInto(before, restored);
            bits = restored;             // writers from now on set the restored bits
            copyInto(journal, restored); // and those since the change began are in the journal
            end();
        }

        private void end() {
            if (ended) {
                throw new IllegalStateException("change of " + DirtyBitmap.this + " ended twice");
            }
            ended = true;
            if (--openChanges == 0) {
                journal = null;
            }
        }
    }

    /** Sets in {@code to} every bit set in {@code from} (same size). */
    private static void copyInto(HBitmap from, HBitmap to) {
        long n = from.size();
        for (long b = from.nextSet(0); b >= 0; ) {
            long c = from.nextClear(b);
            long stop = c < 0 ? n : c;
            to.set(b, stop - b);
            b = stop < n ? from.nextSet(stop) : -1;
        }
    }

    private long[] chunks(long offset, long bytes) {
        checkRange(offset, bytes);
        long end = Math.min(offset + bytes, length);
        if (end <= offset) {
            return null;
        }
        long first = offset >>> shift;
        long last = (end - 1) >>> shift;
        return new long[] {first, last - first + 1};
    }

    private static void checkRange(long offset, long bytes) {
        if (offset < 0 || bytes < 0 || offset > Long.MAX_VALUE - bytes) {
            throw new IllegalArgumentException("range offset " + offset + " bytes " + bytes);
        }
    }

    @Override
    public String toString() {
        return "DirtyBitmap[" + Objects.toString(name, "(anonymous)") + ", granularity " + granularity + ", dirty "
                + dirtyBytes() + "]";
    }
}
