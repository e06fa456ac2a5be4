/**
 * Dirty bitmaps (QEMU's block/dirty-bitmap.c and util/hbitmap.c): which byte ranges of a node were
 * written.
 * <ul>
 * <li>{@link dev.converge.block.bitmap.HBitmap}: a hierarchical bitmap set lock-free from any
 *     writer thread and scanned for the next set bit in logarithmic steps.</li>
 * <li>{@link dev.converge.block.bitmap.DirtyBitmap}: one bitmap of a node at a granularity, named
 *     (the user's) or anonymous (a job's), with QEMU's flags: enabled, busy, persistent,
 *     inconsistent, read-only; {@code check} refuses a use with QEMU's texts.</li>
 * <li>{@link dev.converge.block.bitmap.NodeBitmaps}: the bitmaps of one node
 *     ({@code BlockNode.bitmaps()}), which the node's one write path marks, and QEMU's successor
 *     protocol.</li>
 * </ul>
 *
 * <h2>Using a user's bitmap from a job (backup, NBD export)</h2>
 * All on the main loop unless said otherwise:
 * <pre>{@code
 * DirtyBitmap b = node.dirtyBitmap(name).orElseThrow(...);      // "Dirty bitmap 'x' not found"
 * b.check(DirtyBitmap.Use.ALLOW_READONLY);                       // busy / inconsistent: QEMU's texts
 * NodeBitmaps bitmaps = node.bitmaps();
 * bitmaps.createSuccessor(b);   // frozen: b stops recording and is busy; new writes go to its successor
 * // job thread: copy what b says is dirty
 * for (DirtyBitmap.Range r : b.dirtyRanges(0, b.length())) { copy(r.offset(), r.length()); }
 * // job ended (main loop):
 * bitmaps.abdicate(b);   // success, bitmap-mode on-success: b now holds only the writes since the start
 * bitmaps.reclaim(b);    // failure: b keeps its bits and gains the writes since the start
 * }</pre>
 * A job that only reads a bitmap without the successor protocol (an NBD export) marks it
 * {@linkplain dev.converge.block.bitmap.DirtyBitmap#setBusy busy} for as long as it reads it, and
 * clears the flag after. Other primitives: {@code clear}, {@code merge(src)} (any granularity,
 * same size), {@code resetDirty}, {@code setDirty}, {@code nextDirty}/{@code nextClean}.
 *
 * <h2>Transactions</h2>
 * {@link dev.converge.block.bitmap.DirtyBitmap#beginChange} lets a {@code transaction} action
 * clear or merge in its prepare (so later actions see the result) and undo exactly on abort: the
 * bits come back, and every write made meanwhile stays (a write is never forgotten). The QMP
 * commands and their transaction actions are {@code dev.converge.block.qmp.BitmapQmp}.
 *
 * <p>Owns: the bits and flags. Must not: do I/O, or know which job reads a bitmap; the node's
 * write path sets the bits, jobs and NBD exports read them.
 */
package dev.converge.block.bitmap;
