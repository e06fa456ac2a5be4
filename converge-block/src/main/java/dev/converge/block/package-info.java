/**
 * The block layer (QEMU's block.c and block/io.c for what converge implements): the
 * {@link dev.converge.block.BlockGraph} of named {@link dev.converge.block.BlockNode}s, the edges
 * between them ({@link dev.converge.block.BlockChild}), their users
 * ({@link dev.converge.block.BlockBackend}: an NBD export, a machine's disk, a job's writer), and
 * each node's one write path: in-flight accounting and drain ({@link dev.converge.block.IoGate},
 * {@link dev.converge.block.DrainedSection}), before-write notifiers (the mirror's write-blocking
 * mode, dirty bitmaps), errno-typed errors ({@link dev.converge.block.BlockIOException}), and the
 * zero-copy paths: {@link dev.converge.block.BlockNode#hostFileSpan} hands a caller the host file
 * span a node reads as unchanged ({@link dev.converge.block.HostFileSpan}: a {@code file} node
 * without cache.direct, {@code raw} over one, a job's write filter above them) while the request
 * is admitted; {@link dev.converge.block.BlockNode#writeFromHostFile} writes such a span through
 * another node's one write path, copied in the kernel (copy_file_range) where that node is such a
 * file too (a mirror's and a backup's copies between two files); and
 * {@link dev.converge.block.BlockNode#hostFileRange} leases the span past the request
 * ({@link dev.converge.block.HostFileRange}, over a counted {@link dev.converge.block.HostFile})
 * for a reader that sends it with sendfile.
 *
 * <p>Owns: the graph (changed only on the main loop) and the request path (any thread, no lock).
 * Must not: open sockets or know NBD, migration or QMP wire formats; block the main loop on I/O;
 * let any writer bypass a node's write path (it is what keeps bitmaps and mirrors complete).
 * See docs/architecture.md, sections 1 and 2.
 */
package dev.converge.block;
