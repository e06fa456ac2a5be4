package dev.converge.block.bitmap;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The dirty bitmaps of one block node, named and anonymous, in creation order, and the
 * operations that add or remove one: creating a bitmap, QEMU's successor protocol (create,
 * abdicate, reclaim). The node's write path calls {@link #recordWrite} for every write.
 * <p>
 * Threads: the list is copy-on-write, read by every write without a lock; it changes on the main
 * loop only (every method but {@link #recordWrite}, {@link #find} and {@link #all}).
 */
public final class NodeBitmaps {
    /** QEMU's BDRV_BITMAP_MAX_NAME_SIZE. */
    public static final int MAX_NAME_LENGTH = 1023;

    /** Copy-on-write: read by every write of the node without a lock. */
    private final List<DirtyBitmap> bitmaps = new CopyOnWriteArrayList<>();

    /**
     * Adds a bitmap covering {@code length} bytes; it sees every write that starts after this
     * returns. Main loop.
     *
     * @param name        user-visible name, or null for an anonymous (job-owned) bitmap
     * @param granularity bytes per bit, a power of two in [512, 2^31]
     * @throws BitmapException the name is taken or too long (QEMU's texts)
     */
    public DirtyBitmap add(String name, long granularity, long length) throws BitmapException {
        if (name != null) {
            if (find(name).isPresent()) {
                throw new BitmapException("Bitmap already exists: " + name);
            }
            if (name.length() > MAX_NAME_LENGTH) {
                throw new BitmapException("Bitmap name too long: " + name);
            }
        }
        DirtyBitmap b = new DirtyBitmap(name, granularity, length);
        bitmaps.add(b);
        return b;
    }

    /** Removes a bitmap (and its successor, if any); writes that start afterwards no longer mark it. */
    public void remove(DirtyBitmap bitmap) {
        DirtyBitmap s = bitmap.successor();
        if (s != null) {
            bitmaps.remove(s);
            bitmap.setSuccessor(null);
        }
        bitmaps.remove(bitmap);
    }

    /** The named bitmap, if any. */
    public Optional<DirtyBitmap> find(String name) {
        return bitmaps.stream().filter(b -> name.equals(b.name())).findFirst();
    }

    /** All bitmaps, named and anonymous (successors included), in creation order. */
    public List<DirtyBitmap> all() {
        return List.copyOf(bitmaps);
    }

    public boolean isEmpty() {
        return bitmaps.isEmpty();
    }

    /** Marks [offset, offset + bytes) in every enabled bitmap: the node's write path. Any thread. */
    public void recordWrite(long offset, long bytes) {
        for (DirtyBitmap b : bitmaps) {
            b.recordWrite(offset, bytes);
        }
    }

    /**
     * Freezes {@code bitmap} for an operation that reads it (QEMU's
     * bdrv_dirty_bitmap_create_successor): an anonymous successor of the same granularity takes
     * over recording (enabled as the bitmap was), the bitmap stops recording and becomes busy.
     * End with {@link #abdicate} or {@link #reclaim}. Main loop.
     *
     * @throws BitmapException the bitmap is busy or already frozen (QEMU's texts)
     */
    public DirtyBitmap createSuccessor(DirtyBitmap bitmap) throws BitmapException {
        bitmap.check(java.util.Set.of(DirtyBitmap.Use.BUSY));
        if (bitmap.successor() != null) {
            throw new BitmapException("Cannot create a successor for a bitmap that already has one");
        }
        DirtyBitmap child = add(null, bitmap.granularity(), bitmap.length());
        child.setEnabled(bitmap.enabled()); // added first: no write falls between the two
        bitmap.setEnabled(false);
        bitmap.setSuccessor(child);
        bitmap.setBusy(true);
        return child;
    }

    /**
     * The operation succeeded and consumed the frozen bitmap's bits (QEMU's abdicate): the bitmap
     * now holds what its successor recorded, records as the successor did, and is free again.
     * Main loop.
     */
    public void abdicate(DirtyBitmap bitmap) {
        DirtyBitmap child = requireSuccessor(bitmap);
        bitmap.clear(); // disabled while frozen: no write lands in between
        foldIn(bitmap, child);
    }

    /**
     * The operation failed (QEMU's reclaim): the frozen bitmap keeps its bits and gains what its
     * successor recorded, records as the successor did, and is free again. Main loop.
     */
    public void reclaim(DirtyBitmap bitmap) {
        foldIn(bitmap, requireSuccessor(bitmap));
    }

    private void foldIn(DirtyBitmap bitmap, DirtyBitmap child) {
        // Enable first, so that every write either lands in both or in the child before the copy.
        bitmap.setEnabled(child.enabled());
        try {
            bitmap.merge(child);
        } catch (BitmapException e) {
            throw new IllegalStateException("a successor has its parent's size", e);
        }
        bitmaps.remove(child);
        bitmap.setSuccessor(null);
        bitmap.setBusy(false);
    }

    private static DirtyBitmap requireSuccessor(DirtyBitmap bitmap) {
        DirtyBitmap child = bitmap.successor();
        if (child == null) {
            throw new IllegalStateException(bitmap + " has no successor");
        }
        return child;
    }
}
