/**
 * Wiring of the migration subsystem into a daemon: {@link dev.converge.migration.qmp.MigrationModule#install}
 * builds the machine from {@link dev.converge.migration.qmp.MachineConfig} ({@code --machine},
 * {@code --incoming}, {@code -S}), attaches its disk to a block node, and registers QEMU's
 * migration commands (migrate, migrate-incoming, migrate_cancel, migrate-continue,
 * migrate-set-capabilities, query-migrate-capabilities, migrate-set-parameters,
 * query-migrate-parameters, query-migrate), the MIGRATION and MIGRATION_PASS events and the
 * {@code migration} job type.
 *
 * <p>Must not: hold migration logic; handlers translate QMP to the job, machine and incoming side and back, on the main loop.
 */
package dev.converge.migration.qmp;
