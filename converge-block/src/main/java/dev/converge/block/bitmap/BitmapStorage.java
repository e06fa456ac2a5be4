package dev.converge.block.bitmap;

/**
 * Where a node's driver keeps persistent dirty bitmaps (qcow2's bitmaps extension): a node
 * offers one through {@code BlockNode.bitmapStorage()}; nodes without one refuse
 * {@code persistent: true}. The driver loads the stored bitmaps into the node's
 * {@link NodeBitmaps} when it opens and stores every {@linkplain DirtyBitmap#persistent()
 * persistent} one when it closes. Main loop.
 */
public interface BitmapStorage {
    /**
     * Refuses a new persistent bitmap the image cannot hold (QEMU's
     * qcow2_co_can_store_new_dirty_bitmap), with QEMU's reason, e.g. "Cannot store dirty bitmaps
     * in qcow2 v2 files".
     */
    void checkCanStore(String name, long granularity) throws BitmapException;

    /** Removes a stored bitmap from the image now (block-dirty-bitmap-remove); absent is no error. */
    void remove(String name) throws BitmapException;
}
