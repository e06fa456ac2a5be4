/**
 * The block layer (QEMU's block.c and block/io.c for what converge implements): the
 * {@link dev.converge.block.BlockGraph} of named {@link dev.converge.block.BlockNode}s, the edges
 * between them ({@link dev.converge.block.BlockChild}), their users
 * ({@link dev.converge.block.BlockBackend}: an NBD export, a machine's disk, a job's writer), and
 * each node's one write path: in-flight accounting and drain ({@link dev.converge.block.IoGate},
 * {@link dev.converge.block.DrainedSection}), before-write notifiers (the mirror's write-blocking
 * mode, dirty bitmaps), errno-typed errors ({@link dev.converge.block.BlockIOException}), and the
 * zero-copy read: {@link dev.converge.block.BlockNode#hostFileRange} names the host file range a node
 * reads as unchanged ({@link dev.converge.block.HostFileRange}, over a counted
 * {@link dev.converge.block.HostFile}), for a reader that sends it with sendfile.
 *
 * <p>Owns: the graph (changed only on the main loop) and the request path (any thread, no lock).
 * Must not: open sockets or know NBD, migration or QMP wire formats; block the main loop on I/O;
 * let any writer bypass a node's write path (it is what keeps bitmaps and mirrors complete).
 * See docs/architecture.md, sections 1 and 2.
 */
package dev.converge.block;
