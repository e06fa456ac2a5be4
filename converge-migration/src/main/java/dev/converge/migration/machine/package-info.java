/**
 * The machine whose state migrates: guest RAM in named blocks of off-heap memory with a
 * lock-free dirty log ({@link dev.converge.migration.machine.RamBlock},
 * {@link dev.converge.migration.machine.DirtyLog}), vCPU threads running a workload
 * ({@link dev.converge.migration.machine.Vcpus}), device state, the QEMU run state and its
 * QMP commands ({@link dev.converge.migration.qmp.MachineQmp}, in the module's {@code qmp} package).
 * <p>
 * What runs the vCPUs is the machine's {@link dev.converge.migration.machine.Accelerator}:
 * {@link dev.converge.migration.machine.SoftwareAccelerator} (the model above) or the KVM one
 * (package {@code machine.kvm}). The migration sees one seam through {@link
 * dev.converge.migration.machine.Machine}: sync the dirty log, stop and resume the vCPUs
 * ({@link dev.converge.migration.machine.VcpuControl}), save and load device state.
 *
 * <p>Must not: know migration or QMP wire formats; the migration reads RAM and the dirty log through this package's API only.
 */
package dev.converge.migration.machine;
