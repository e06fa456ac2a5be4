/**
 * The block layer's QMP commands and QAPI types (QEMU's qapi/block-core.json for what converge
 * implements): blockdev-add, blockdev-del, query-named-block-nodes, query-block and the dirty
 * bitmap commands ({@link dev.converge.block.qmp.BlockQmp}, {@link dev.converge.block.qmp.BlockSchema}),
 * and the mirror's binding: its types ({@link dev.converge.block.qmp.MirrorSchema}), blockdev-mirror
 * ({@link dev.converge.block.qmp.MirrorQmp}), the legacy block-job commands
 * ({@link dev.converge.block.qmp.BlockJobQmp}), the BLOCK_JOB_* events
 * ({@link dev.converge.block.qmp.BlockJobEvents}) and the transaction action
 * ({@link dev.converge.block.qmp.BlockJobTransactionAction}); the image jobs and commands wired by
 * {@link dev.converge.block.qmp.ImageJobsQmp}: blockdev-create
 * ({@link dev.converge.block.qmp.BlockdevCreateQmp}), block-stream and block-commit
 * ({@code ChainQmp}), blockdev-reopen ({@code BlockdevReopenQmp}) and query-blockstats
 * ({@link dev.converge.block.qmp.BlockStatsQmp}).
 *
 * <p>Owns: translating QMP to block-layer and mirror calls and their errors to QMP errors, on the
 * main loop. Must not: hold block-layer or mirror logic of its own (starting a mirror is
 * {@link dev.converge.block.mirror.Mirrors}'), or know the drivers that plug in (it receives
 * their schema variants as {@link dev.converge.block.driver.BlockDriverPlugin}s).
 */
package dev.converge.block.qmp;
