/**
 * Wiring of the migration subsystem into a daemon: {@link dev.converge.migration.qmp.MigrationModule#install}
 * builds the machine from {@link dev.converge.migration.qmp.MachineConfig} ({@code --machine},
 * {@code --incoming}, {@code -S}), attaches its disk to a block node, and registers QEMU's
 * migration commands (migrate, migrate-incoming, migrate_cancel, migrate-continue,
 * migrate-set-capabilities, query-migrate-capabilities, migrate-set-parameters,
 * query-migrate-parameters, query-migrate, announce-self), the MIGRATION, MIGRATION_PASS, STOP
 * and RESUME events and the {@code migration} job type. QEMU 10.0's parameters are one table
 * ({@link dev.converge.migration.qmp.MigrationParameterTable}): each row declares a member of both
 * QMP structs, its documentation, and how it reads and writes the typed
 * {@link dev.converge.migration.job.MigrationParameters}.
 *
 * <p>Must not: hold migration logic; handlers translate QMP to the job, machine and incoming side and back, on the main loop.
 */
package dev.converge.migration.qmp;
