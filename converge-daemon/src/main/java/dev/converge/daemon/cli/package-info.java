/**
 * {@code converge}, the operator's command line ({@link dev.converge.daemon.cli.ConvergeCli}):
 * {@code jobs}, {@code job wait|pause|resume|cancel|complete|finalize|dismiss}, {@code qmp} and
 * {@code demo}, with pure renderers for tables and progress bars.
 *
 * <p>Must not: bypass QMP (what the CLI can do, a script can do), or hold state between runs.
 */
package dev.converge.daemon.cli;
