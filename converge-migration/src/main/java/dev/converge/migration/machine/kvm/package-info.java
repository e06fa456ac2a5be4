/**
 * The KVM accelerator, through the JDK's Foreign Function and Memory API (no JNI, no C):
 * {@link dev.converge.migration.machine.kvm.KvmSystem} ({@code /dev/kvm}),
 * {@link dev.converge.migration.machine.kvm.KvmVm} (memory slots, irqchip, PIT, dirty log, VM
 * state), {@code KvmVcpu} and {@code KvmVcpus} (one platform thread per vCPU in KVM_RUN, kicked by
 * a real-time signal that is blocked except inside KVM_RUN; a triple fault is reported to the
 * machine as a reset request), {@code DirtySource} ({@code DirtyBitmaps}: the per-slot bitmap under
 * manual protection; {@code DirtyRings}: the per-vCPU dirty rings, with a reaper),
 * {@code GuestPorts} (serial, CMOS, A20), {@code VcpuState} (the restore order, and why) and
 * {@code StateSections} (the device section), and
 * {@link dev.converge.migration.machine.kvm.KvmAccelerator}, which puts them behind the machine's
 * {@link dev.converge.migration.machine.Accelerator} seam.
 * <p>
 * ioctl numbers are computed from the kernel's {@code _IO/_IOR/_IOW/_IOWR} formulas
 * ({@code Ioctl}) and struct layouts are FFM {@link java.lang.foreign.MemoryLayout}s with the
 * kernel's member names ({@code KvmLayouts}); both are tested against the values the C compiler
 * gives for linux/kvm.h. The guest converge ships, {@code pattern-guest.S}, sits next to its
 * assembled bytes in this package's resources.
 */
package dev.converge.migration.machine.kvm;
