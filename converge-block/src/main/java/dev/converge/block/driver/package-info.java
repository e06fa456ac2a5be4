/**
 * The block drivers converge has built in ({@code file} through FFM POSIX calls, with
 * copy_file_range for writes from another file's span, {@code raw},
 * {@code null-co}, {@code blkdebug}) and how blockdev-add JSON becomes open nodes
 * ({@link dev.converge.block.driver.BlockdevOpener}, reading options with QEMU's texts through
 * {@link dev.converge.block.driver.Opts}). Other modules contribute drivers as
 * {@link dev.converge.block.driver.BlockDriverPlugin}s (converge-nbd's {@code nbd}).
 *
 * <p>Owns: talking to storage. Must not: change the graph (the opener hands finished nodes to
 * {@code BlockGraph} on the main loop), or depend on the modules that plug drivers in.
 */
package dev.converge.block.driver;
