package dev.converge.migration.machine.kvm;

/**
 * The KVM ABI constants converge uses: ioctl numbers (from {@link Ioctl}'s formulas with the
 * struct sizes of linux/kvm.h for x86-64), capabilities, exit reasons and flags.
 */
final class Kvm {
    static final int KVMIO = 0xAE;

    // system ioctls (/dev/kvm)
    static final long GET_API_VERSION = Ioctl.io(KVMIO, 0x00);
    static final long CREATE_VM = Ioctl.io(KVMIO, 0x01);
    static final long GET_MSR_INDEX_LIST = Ioctl.iowr(KVMIO, 0x02, 4);
    static final long CHECK_EXTENSION = Ioctl.io(KVMIO, 0x03);
    static final long GET_VCPU_MMAP_SIZE = Ioctl.io(KVMIO, 0x04);
    static final long GET_SUPPORTED_CPUID = Ioctl.iowr(KVMIO, 0x05, 8);

    // VM ioctls
    static final long CREATE_VCPU = Ioctl.io(KVMIO, 0x41);
    static final long GET_DIRTY_LOG = Ioctl.iow(KVMIO, 0x42, 16);
    static final long SET_USER_MEMORY_REGION = Ioctl.iow(KVMIO, 0x46, 32);
    static final long SET_TSS_ADDR = Ioctl.io(KVMIO, 0x47);
    static final long SET_IDENTITY_MAP_ADDR = Ioctl.iow(KVMIO, 0x48, 8);
    static final long CREATE_IRQCHIP = Ioctl.io(KVMIO, 0x60);
    static final long GET_IRQCHIP = Ioctl.iowr(KVMIO, 0x62, 520);
    /** Declared _IOR by the kernel although it reads the argument; the number is what counts. */
    static final long SET_IRQCHIP = Ioctl.ior(KVMIO, 0x63, 520);
    static final long CREATE_PIT2 = Ioctl.iow(KVMIO, 0x77, 64);
    static final long SET_CLOCK = Ioctl.iow(KVMIO, 0x7b, 48);
    static final long GET_CLOCK = Ioctl.ior(KVMIO, 0x7c, 48);
    static final long GET_PIT2 = Ioctl.ior(KVMIO, 0x9f, 112);
    static final long SET_PIT2 = Ioctl.iow(KVMIO, 0xa0, 112);
    static final long ENABLE_CAP = Ioctl.iow(KVMIO, 0xa3, 104);
    static final long CLEAR_DIRTY_LOG = Ioctl.iowr(KVMIO, 0xc0, 24);
    static final long RESET_DIRTY_RINGS = Ioctl.io(KVMIO, 0xc7);

    // vCPU ioctls
    static final long RUN = Ioctl.io(KVMIO, 0x80);
    static final long GET_REGS = Ioctl.ior(KVMIO, 0x81, 144);
    static final long SET_REGS = Ioctl.iow(KVMIO, 0x82, 144);
    static final long GET_SREGS = Ioctl.ior(KVMIO, 0x83, 312);
    static final long SET_SREGS = Ioctl.iow(KVMIO, 0x84, 312);
    static final long GET_MSRS = Ioctl.iowr(KVMIO, 0x88, 8);
    static final long SET_MSRS = Ioctl.iow(KVMIO, 0x89, 8);
    static final long SET_SIGNAL_MASK = Ioctl.iow(KVMIO, 0x8b, 4);
    static final long GET_FPU = Ioctl.ior(KVMIO, 0x8c, 416);
    static final long SET_FPU = Ioctl.iow(KVMIO, 0x8d, 416);
    static final long GET_LAPIC = Ioctl.ior(KVMIO, 0x8e, 1024);
    static final long SET_LAPIC = Ioctl.iow(KVMIO, 0x8f, 1024);
    static final long SET_CPUID2 = Ioctl.iow(KVMIO, 0x90, 8);
    static final long GET_MP_STATE = Ioctl.ior(KVMIO, 0x98, 4);
    static final long SET_MP_STATE = Ioctl.iow(KVMIO, 0x99, 4);
    static final long GET_VCPU_EVENTS = Ioctl.ior(KVMIO, 0x9f, 64);
    static final long SET_VCPU_EVENTS = Ioctl.iow(KVMIO, 0xa0, 64);
    static final long GET_DEBUGREGS = Ioctl.ior(KVMIO, 0xa1, 128);
    static final long SET_DEBUGREGS = Ioctl.iow(KVMIO, 0xa2, 128);
    static final long GET_XSAVE = Ioctl.ior(KVMIO, 0xa4, 4096);
    static final long SET_XSAVE = Ioctl.iow(KVMIO, 0xa5, 4096);
    static final long GET_XCRS = Ioctl.ior(KVMIO, 0xa6, 392);
    static final long SET_XCRS = Ioctl.iow(KVMIO, 0xa7, 392);

    // capabilities (KVM_CAP_*)
    static final int CAP_IRQCHIP = 0;
    static final int CAP_USER_MEMORY = 3;
    static final int CAP_SET_TSS_ADDR = 4;
    static final int CAP_MP_STATE = 14;
    static final int CAP_PIT2 = 33;
    static final int CAP_ADJUST_CLOCK = 39;
    static final int CAP_VCPU_EVENTS = 41;
    static final int CAP_DEBUGREGS = 50;
    static final int CAP_XSAVE = 55;
    static final int CAP_XCRS = 56;
    static final int CAP_IMMEDIATE_EXIT = 136;
    static final int CAP_MANUAL_DIRTY_LOG_PROTECT2 = 168;
    static final int CAP_DIRTY_LOG_RING = 192;

    // exit reasons (KVM_EXIT_*)
    static final int EXIT_UNKNOWN = 0;
    static final int EXIT_EXCEPTION = 1;
    static final int EXIT_IO = 2;
    static final int EXIT_HLT = 5;
    static final int EXIT_MMIO = 6;
    static final int EXIT_SHUTDOWN = 8;
    static final int EXIT_FAIL_ENTRY = 9;
    static final int EXIT_INTR = 10;
    static final int EXIT_INTERNAL_ERROR = 17;
    static final int EXIT_SYSTEM_EVENT = 24;
    static final int EXIT_DIRTY_RING_FULL = 31;

    static final int API_VERSION = 12;
    static final int MEM_LOG_DIRTY_PAGES = 1;
    static final long DIRTY_LOG_MANUAL_PROTECT_ENABLE = 1;
    static final int EXIT_IO_IN = 0;
    static final int EXIT_IO_OUT = 1;
    /** Where a vCPU's dirty ring is mapped in its file, in pages (KVM_DIRTY_LOG_PAGE_OFFSET). */
    static final long DIRTY_LOG_PAGE_OFFSET = 64;
    /** struct kvm_dirty_gfn: flags u32, slot u32, offset u64. */
    static final int DIRTY_GFN_SIZE = 16;
    /** kvm_dirty_gfn.flags: the kernel published the entry; user space set it harvested. */
    static final int DIRTY_GFN_F_DIRTY = 1;
    static final int DIRTY_GFN_F_RESET = 2;

    private Kvm() {
    }
}
