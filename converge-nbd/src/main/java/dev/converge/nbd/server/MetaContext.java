package dev.converge.nbd.server;

import dev.converge.nbd.wire.NbdProtocol;

/**
 * A meta context selected for BLOCK_STATUS.
 *
 * @param id     the id the client sees in BLOCK_STATUS chunks
 * @param name   the full context name
 * @param bitmap the dirty bitmap name, or null for base:allocation
 */
public record MetaContext(int id, String name, String bitmap) {
    /** base:allocation, id 0 as in QEMU. */
    public static final MetaContext BASE_ALLOCATION = new MetaContext(0, NbdProtocol.CONTEXT_BASE_ALLOCATION, null);

    /** The context of the export's i-th bitmap (ids after base:allocation). */
    public static MetaContext dirtyBitmap(int index, String bitmap) {
        return new MetaContext(1 + index, NbdProtocol.CONTEXT_QEMU_DIRTY_BITMAP + bitmap, bitmap);
    }
}
