/**
 * {@code converge}, the operator's command line ({@link dev.converge.daemon.cli.ConvergeCli}):
 * {@code jobs}, {@code job wait|pause|resume|cancel|complete|finalize|dismiss}, {@code events},
 * {@code qmp} and {@code demo}, with pure renderers for tables, progress bars and status lines.
 *
 * <p>Must not: bypass QMP (what the CLI can do, a script can do), or hold state between runs.
 *
 * <p>A quick path runs the frequent calls ({@link dev.converge.daemon.cli.QuickPath}), one-line errors, and `job wait`'s
 * line ({@link dev.converge.daemon.cli.StatusLine}, a pure function of the job and the width;
 * {@link dev.converge.daemon.cli.Terminal} asks the kernel whether stdout is a terminal and how
 * wide it is).
 */
package dev.converge.daemon.cli;
