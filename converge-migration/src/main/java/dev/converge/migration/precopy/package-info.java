/**
 * Precopy live migration over a byte channel: the sender loop (mechanism,
 * {@link dev.converge.migration.precopy.PrecopySender}), the convergence decision (policy,
 * {@link dev.converge.migration.precopy.ConvergencePolicy}), the narrow interface the migration
 * job implements ({@link dev.converge.migration.precopy.MigrationControl}), and the
 * incoming side as a sealed state with a step function
 * ({@link dev.converge.migration.precopy.IncomingMigration}). Errors are one sealed type with
 * a subtype per phase ({@link dev.converge.migration.precopy.MigrationException}).
 *
 * <p>Must not: know the job engine or QMP (it sees the job only through {@link dev.converge.migration.precopy.MigrationControl}), or encode bytes itself ({@code wire} does).
 */
package dev.converge.migration.precopy;
