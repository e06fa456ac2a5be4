/**
 * Live migration of a machine's memory: the machine ({@code machine}), the stream format
 * ({@code wire}), the precopy sender and the incoming side ({@code precopy}), migration files
 * ({@code file}), the migration as a job and its joint switchover with mirrors ({@code job}), and
 * the QMP commands and daemon wiring ({@code qmp}).
 *
 * <p>The module must not know NBD (a machine's disk and a mirror's target are block nodes the
 * daemon wires), nor QEMU's migration stream (converge speaks its own, documented in
 * {@code wire}). See docs/architecture.md, sections 5 and 6.
 */
package dev.converge.migration;
