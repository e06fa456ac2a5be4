/**
 * {@code converge demo} ({@link dev.converge.daemon.demo.Demo}): two converged child processes,
 * a running machine whose memory and disk move as one grouped transaction, digests compared, and
 * everything it made removed; {@link dev.converge.daemon.demo.JobBoard} draws the progress.
 *
 * <p>Must not: reach into a daemon other than over QMP, or leave a process or file behind.
 */
package dev.converge.daemon.demo;
