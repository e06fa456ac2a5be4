/**
 * Dirty bitmaps (QEMU's block/dirty-bitmap.c and util/hbitmap.c):
 * {@link dev.converge.block.bitmap.HBitmap}, a hierarchical bitmap set lock-free from any writer
 * thread and scanned for the next set bit in logarithmic steps, and
 * {@link dev.converge.block.bitmap.DirtyBitmap}, a named bitmap of a node at a granularity, with
 * QEMU's busy and enabled flags.
 *
 * <p>Owns: which byte ranges of a node were written. Must not: do I/O, or know which job reads
 * it; the node's write path sets the bits, jobs and NBD exports read them.
 */
package dev.converge.block.bitmap;
