package dev.converge.block;

/**
 * The options every node has (QEMU's BlockdevOptions base members), already resolved to values.
 *
 * @param readOnly     the node refuses writes (EPERM)
 * @param discardUnmap discard=unmap: discards and MAY_UNMAP are passed on; with "ignore" (QEMU's
 *                     default for a node added on its own) discards do nothing
 * @param cacheDirect  cache.direct: bypass the host page cache (O_DIRECT)
 * @param noFlush      cache.no-flush: flushes do nothing
 */
public record NodeOptions(boolean readOnly, boolean discardUnmap, boolean cacheDirect, boolean noFlush) {
    /** QEMU's defaults for a node added by blockdev-add. */
    public static final NodeOptions DEFAULTS = new NodeOptions(false, false, false, false);

    public NodeOptions withReadOnly(boolean ro) {
        return new NodeOptions(ro, discardUnmap, cacheDirect, noFlush);
    }

    public NodeOptions withDiscardUnmap(boolean unmap) {
        return new NodeOptions(readOnly, unmap, cacheDirect, noFlush);
    }
}
