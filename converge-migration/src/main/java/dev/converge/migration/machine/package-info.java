/**
 * The machine whose state migrates: guest RAM in named blocks of off-heap memory with a
 * lock-free dirty log ({@link dev.converge.migration.machine.RamBlock},
 * {@link dev.converge.migration.machine.DirtyLog}), vCPU threads running a workload
 * ({@link dev.converge.migration.machine.Vcpus}), device state, the QEMU run state and its
 * QMP commands ({@link dev.converge.migration.qmp.MachineQmp}, in the module's {@code qmp} package).
 *
 * <p>Must not: know migration or QMP wire formats; the migration reads RAM and the dirty log through this package's API only.
 */
package dev.converge.migration.machine;
