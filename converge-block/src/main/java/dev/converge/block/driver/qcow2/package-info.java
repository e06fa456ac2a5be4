/**
 * The qcow2 format driver, written from QEMU's published specification (docs/interop/qcow2.txt).
 * <ul>
 * <li>{@link dev.converge.block.driver.qcow2.Qcow2Header}: the header and extensions, a pure codec.</li>
 * <li>{@link dev.converge.block.driver.qcow2.L2Entry}: the bits of L1/L2 entries and compressed
 *     descriptors, pure functions.</li>
 * <li>{@code TableCache}: write-back LRU cache of L2 tables and refcount blocks, with QEMU's
 *     cache dependency (refcounts reach the disk before the L2 entries that need them), and a
 *     sequence stamp per table so reads map without the metadata lock.</li>
 * <li>{@code Refcounts}: the refcount table and blocks, cluster allocation, table growth.</li>
 * <li>{@link dev.converge.block.driver.qcow2.Qcow2Node}: the node: mapping (lock-free for reads,
 *     in-place writes and block status, under the metadata lock where it must load or change a
 *     table), reads through the backing chain, allocating writes with copy-on-write (their data written outside the
 *     metadata lock, so they run in parallel), zero clusters, discard, compressed
 *     clusters, block status, populate (block-stream's copy-on-read write), reopen, and a new
 *     backing (the header's backing file rewritten).</li>
 * <li>{@code CompressedWrites}: compressed cluster writes ({@code ReqFlag.WRITE_COMPRESSED}, jobs
 *     with {@code compress}): QEMU's rules, deflate streams packed into shared host clusters;
 *     {@code ClusterDeflate}: the codec, within QEMU's 4 KiB inflate window. Kept apart from
 *     the node's allocating-write path.</li>
 * <li>{@link dev.converge.block.driver.qcow2.Qcow2Formatter}: a new image (blockdev-create).</li>
 * </ul>
 * Persistent dirty bitmaps live in their own classes: {@code Qcow2BitmapDirectory} (the bitmaps
 * extension and bitmap directory, pure codecs) and {@code Qcow2BitmapStore} (load at open with the
 * in_use flag set on writable images, store at close, remove at once); the node only lends them
 * cluster allocation and its metadata lock.
 */
package dev.converge.block.driver.qcow2;
