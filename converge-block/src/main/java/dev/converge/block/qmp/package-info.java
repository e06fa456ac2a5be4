/**
 * The block layer's QMP commands and QAPI types (QEMU's qapi/block-core.json for what converge
 * implements): blockdev-add, blockdev-del, query-named-block-nodes, query-block and the dirty
 * bitmap commands ({@link dev.converge.block.qmp.BlockQmp}, {@link dev.converge.block.qmp.BlockSchema}).
 * The mirror's commands are in {@code dev.converge.block.mirror}.
 *
 * <p>Owns: translating QMP to block-layer calls and block errors to QMP errors, on the main loop.
 * Must not: hold block-layer logic of its own, or know the drivers that plug in (it receives
 * their schema variants as {@link dev.converge.block.driver.BlockDriverPlugin}s).
 */
package dev.converge.block.qmp;
