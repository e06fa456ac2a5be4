package dev.converge.migration.machine.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

/** An open {@code /dev/kvm}: the system ioctls, and the factory of VMs. */
public final class KvmSystem implements AutoCloseable {
    /** The KVM device node. */
    public static final Path DEVICE = Path.of("/dev/kvm");
    /** Most MSR indices asked for in KVM_GET_MSR_INDEX_LIST. */
    private static final int MAX_MSRS = 1024;
    /** Most CPUID leaves asked for in KVM_GET_SUPPORTED_CPUID. */
    private static final int MAX_CPUID_ENTRIES = 256;

    private final int fd;

    private KvmSystem(int fd) {
        this.fd = fd;
    }

    /** Whether {@link #DEVICE} exists and can be opened for reading and writing. */
    public static boolean available() {
        return Files.isReadable(DEVICE) && Files.isWritable(DEVICE);
    }

    /**
     * Opens {@link #DEVICE} and checks the API version.
     *
     * @throws NativeException when the device cannot be opened
     * @throws IllegalStateException when the API version is not {@value Kvm#API_VERSION}
     */
    public static KvmSystem open() {
        int fd;
        try {
            fd = LibC.open(DEVICE.toString(), LibC.O_RDWR | LibC.O_CLOEXEC);
        } catch (NativeException e) {
            throw new NativeException("accel=kvm: cannot open " + DEVICE, e.errno(), whyNot(e.errno()));
        }
        KvmSystem kvm = new KvmSystem(fd);
        int version = kvm.apiVersion();
        if (version != Kvm.API_VERSION) {
            kvm.close();
            throw new IllegalStateException("KVM API version " + version + " (expected: " + Kvm.API_VERSION + ")");
        }
        return kvm;
    }

    /**
     * What an operator can do when {@link #DEVICE} does not open. The bare errno says little:
     * ENOENT here has been a host that is itself a guest whose kernel would not bind KVM
     * ("kvm-pvm: this kernel is itself a kvm-pvm guest; not binding" in its log).
     */
    static String whyNot(int errno) {
        return switch (errno) { // ENOENT, ENXIO, ENODEV; EPERM, EACCES; EBUSY
            case 2, 6, 19 -> "this host offers no KVM (the kernel has it disabled or not loaded, or the host is itself a "
                    + "virtual machine without nested virtualisation; the kernel log says which); use accel=software";
            case 1, 13 -> "no permission: run converged as a user allowed to open it (usually a member of its group, 'kvm')";
            case 16 -> "busy: another hypervisor holds the CPU's virtualisation extensions";
            default -> "see the kernel log";
        };
    }

    /** KVM_GET_API_VERSION. */
    public int apiVersion() {
        return LibC.ioctl(fd, Kvm.GET_API_VERSION, 0, "KVM_GET_API_VERSION");
    }

    /** KVM_CHECK_EXTENSION: 0 when absent, else a positive value (often 1). */
    public int checkExtension(int capability) {
        return LibC.ioctl(fd, Kvm.CHECK_EXTENSION, capability, "KVM_CHECK_EXTENSION " + capability);
    }

    /** KVM_GET_VCPU_MMAP_SIZE: bytes of each vCPU's shared kvm_run area. */
    int vcpuMmapSize() {
        return LibC.ioctl(fd, Kvm.GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
    }

    /** KVM_GET_MSR_INDEX_LIST: the MSRs KVM lets user space save and restore. */
    int[] msrIndexList() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment list = a.allocate(4 + 4L * MAX_MSRS, 8);
            list.set(ValueLayout.JAVA_INT, 0, MAX_MSRS);
            LibC.ioctl(fd, Kvm.GET_MSR_INDEX_LIST, list, "KVM_GET_MSR_INDEX_LIST");
            int n = list.get(ValueLayout.JAVA_INT, 0);
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                out[i] = list.get(ValueLayout.JAVA_INT, 4 + 4L * i);
            }
            return out;
        }
    }

    /** KVM_GET_SUPPORTED_CPUID as a kvm_cpuid2 struct (header and entries) in {@code arena}. */
    MemorySegment supportedCpuid(Arena arena) {
        MemorySegment cpuid = arena.allocate(KvmLayouts.CPUID2.byteSize() + KvmLayouts.CPUID_ENTRY2_SIZE * MAX_CPUID_ENTRIES, 8);
        cpuid.set(ValueLayout.JAVA_INT, 0, MAX_CPUID_ENTRIES);
        LibC.ioctl(fd, Kvm.GET_SUPPORTED_CPUID, cpuid, "KVM_GET_SUPPORTED_CPUID");
        return cpuid;
    }

    /** KVM_CREATE_VM (default machine type). */
    public KvmVm createVm() {
        int vmFd = LibC.ioctl(fd, Kvm.CREATE_VM, 0, "KVM_CREATE_VM");
        return new KvmVm(this, vmFd);
    }

    @Override
    public void close() {
        LibC.close(fd);
    }
}
