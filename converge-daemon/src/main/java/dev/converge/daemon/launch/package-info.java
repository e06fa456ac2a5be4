/**
 * Child daemons ({@link dev.converge.daemon.launch.ChildDaemon}): converged or a peer
 * (qemu-storage-daemon, QEMU) started as a process that serves QMP on a UNIX socket, connected to
 * once it listens, and ended (quit, SIGTERM, SIGKILL). The one launcher of the demo and the
 * benchmarks.
 *
 * <p>Must not: know what the child is used for; callers build its command line.
 */
package dev.converge.daemon.launch;
