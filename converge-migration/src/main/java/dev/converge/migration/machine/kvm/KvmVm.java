package dev.converge.migration.machine.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One KVM virtual machine (a VM file descriptor): memory slots, the in-kernel interrupt
 * controllers and PIT, the dirty log, the VM-wide state, and the factory of vCPUs.
 * The VM ioctls are thread-safe in the kernel; this class keeps no mutable state.
 */
public final class KvmVm implements AutoCloseable {
    /** Where KVM_SET_TSS_ADDR puts its three pages (as QEMU: just below the BIOS). */
    static final long TSS_ADDR = 0xfffbd000L;
    /** Where KVM_SET_IDENTITY_MAP_ADDR puts its page (below the TSS, as QEMU). */
    static final long IDENTITY_MAP_ADDR = 0xfeffc000L;

    private final KvmSystem kvm;
    private final int fd;

    KvmVm(KvmSystem kvm, int fd) {
        this.kvm = kvm;
        this.fd = fd;
    }

    KvmSystem system() {
        return kvm;
    }

    /** KVM_CHECK_EXTENSION on this VM. */
    int checkExtension(int capability) {
        return LibC.ioctl(fd, Kvm.CHECK_EXTENSION, capability, "KVM_CHECK_EXTENSION " + capability);
    }

    /** KVM_SET_TSS_ADDR and KVM_SET_IDENTITY_MAP_ADDR: pages Intel's real-mode emulation needs. */
    void setTssAddr() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = a.allocate(ValueLayout.JAVA_LONG);
            addr.set(ValueLayout.JAVA_LONG, 0, IDENTITY_MAP_ADDR);
            LibC.ioctl(fd, Kvm.SET_IDENTITY_MAP_ADDR, addr, "KVM_SET_IDENTITY_MAP_ADDR");
        }
        LibC.ioctl(fd, Kvm.SET_TSS_ADDR, TSS_ADDR, "KVM_SET_TSS_ADDR");
    }

    /** KVM_CREATE_IRQCHIP (PIC, IOAPIC and a local APIC per vCPU in the kernel); before any vCPU. */
    void createIrqchip() {
        LibC.ioctl(fd, Kvm.CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
    }

    /** KVM_CREATE_PIT2 (the i8254 timer in the kernel), after the irqchip. */
    void createPit2() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment config = a.allocate(KvmLayouts.PIT_CONFIG);
            config.fill((byte) 0);
            LibC.ioctl(fd, Kvm.CREATE_PIT2, config, "KVM_CREATE_PIT2");
        }
    }

    /** KVM_ENABLE_CAP with one argument. */
    void enableCap(int capability, long arg0) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(KvmLayouts.ENABLE_CAP);
            cap.fill((byte) 0);
            cap.set(ValueLayout.JAVA_INT, 0, capability);
            cap.set(ValueLayout.JAVA_LONG, KvmLayouts.offset(KvmLayouts.ENABLE_CAP, "args"), arg0);
            LibC.ioctl(fd, Kvm.ENABLE_CAP, cap, "KVM_ENABLE_CAP " + capability);
        }
    }

    /** KVM_SET_USER_MEMORY_REGION: maps {@code memory} at guest physical {@code gpa} as slot {@code slot}. */
    void setMemoryRegion(int slot, int flags, long gpa, MemorySegment memory) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment r = a.allocate(KvmLayouts.USERSPACE_MEMORY_REGION);
            r.set(ValueLayout.JAVA_INT, 0, slot);
            r.set(ValueLayout.JAVA_INT, 4, flags);
            r.set(ValueLayout.JAVA_LONG, 8, gpa);
            r.set(ValueLayout.JAVA_LONG, 16, memory.byteSize());
            r.set(ValueLayout.JAVA_LONG, 24, memory.address());
            LibC.ioctl(fd, Kvm.SET_USER_MEMORY_REGION, r, "KVM_SET_USER_MEMORY_REGION slot " + slot);
        }
    }

    /**
     * KVM_GET_DIRTY_LOG of {@code slot} into {@code bitmap} (one bit per page, 64-bit words);
     * with manual protection enabled the pages stay writable until {@link #clearDirtyLog}.
     */
    void getDirtyLog(int slot, MemorySegment bitmap, MemorySegment scratch) {
        scratch.set(ValueLayout.JAVA_INT, 0, slot);
        scratch.set(ValueLayout.JAVA_INT, 4, 0);
        scratch.set(ValueLayout.ADDRESS, 8, bitmap);
        LibC.ioctl(fd, Kvm.GET_DIRTY_LOG, scratch, "KVM_GET_DIRTY_LOG slot " + slot);
    }

    /**
     * KVM_CLEAR_DIRTY_LOG: write-protects again the pages set in {@code bitmap} (pages
     * {@code first..first+count-1} of {@code slot}); first must be a multiple of 64.
     */
    void clearDirtyLog(int slot, long first, int count, MemorySegment bitmap, MemorySegment scratch) {
        scratch.set(ValueLayout.JAVA_INT, 0, slot);
        scratch.set(ValueLayout.JAVA_INT, 4, count);
        scratch.set(ValueLayout.JAVA_LONG, 8, first);
        scratch.set(ValueLayout.ADDRESS, 16, bitmap);
        LibC.ioctl(fd, Kvm.CLEAR_DIRTY_LOG, scratch, "KVM_CLEAR_DIRTY_LOG slot " + slot);
    }

    /** KVM_RESET_DIRTY_RINGS: write-protects again the pages of every ring entry flagged RESET, and frees those entries. */
    void resetDirtyRings() {
        LibC.ioctl(fd, Kvm.RESET_DIRTY_RINGS, 0, "KVM_RESET_DIRTY_RINGS");
    }

    /** A VM-wide state ioctl that reads into {@code buffer}. */
    void get(long request, MemorySegment buffer, String what) {
        LibC.ioctl(fd, request, buffer, what);
    }

    /** A VM-wide state ioctl that writes from {@code buffer}. */
    void set(long request, MemorySegment buffer, String what) {
        LibC.ioctl(fd, request, buffer, what);
    }

    /** KVM_CREATE_VCPU with id {@code id}, its kvm_run area mapped into {@code arena}. */
    KvmVcpu createVcpu(int id, Arena arena) {
        int vcpuFd = LibC.ioctl(fd, Kvm.CREATE_VCPU, id, "KVM_CREATE_VCPU " + id);
        MemorySegment run = LibC.mmap(kvm.vcpuMmapSize(), LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, vcpuFd, 0, arena,
                "mmap kvm_run of vCPU " + id);
        return new KvmVcpu(id, vcpuFd, run);
    }

    @Override
    public void close() {
        LibC.close(fd);
    }
}
