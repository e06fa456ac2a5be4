/**
 * converge, the operator's CLI: picocli commands that speak QMP to a daemon, a quick path for the
 * frequent calls ({@link dev.converge.daemon.cli.QuickPath}), one-line errors, and `job wait`'s
 * line ({@link dev.converge.daemon.cli.StatusLine}, a pure function of the job and the width;
 * {@link dev.converge.daemon.cli.Terminal} asks the kernel whether stdout is a terminal and how
 * wide it is).
 */
package dev.converge.daemon.cli;
