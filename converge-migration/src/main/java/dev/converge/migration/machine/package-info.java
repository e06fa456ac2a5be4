/**
 * The machine whose state migrates: guest RAM in named blocks of off-heap memory with a
 * lock-free dirty log ({@link dev.converge.migration.machine.RamBlock},
 * {@link dev.converge.migration.machine.DirtyLog}), vCPU threads running a workload
 * ({@link dev.converge.migration.machine.Vcpus}), device state, the QEMU run state and its
 * QMP commands ({@link dev.converge.migration.machine.MachineQmp}).
 * <p>
 * What runs the vCPUs is the machine's {@link dev.converge.migration.machine.Accelerator}:
 * {@link dev.converge.migration.machine.SoftwareAccelerator} (the model above) or the KVM one
 * (package {@code machine.kvm}). The migration sees one seam through {@link
 * dev.converge.migration.machine.Machine}: sync the dirty log, stop and resume the vCPUs
 * ({@link dev.converge.migration.machine.VcpuControl}), save and load device state.
 */
package dev.converge.migration.machine;
