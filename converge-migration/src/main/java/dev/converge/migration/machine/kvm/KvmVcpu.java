package dev.converge.migration.machine.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One KVM vCPU: its file descriptor and its shared kvm_run area. {@link #run} belongs to the
 * vCPU's own thread (KVM expects one thread to run each vCPU); state ioctls may come from another
 * thread while the vCPU is parked out of KVM_RUN ({@link KvmVcpus#onEveryVcpu}: KVM's API document
 * allows it, the first ioctl after a change of thread may cost more).
 */
final class KvmVcpu {
    private final int id;
    private final int fd;
    /** The kernel's kvm_run area, shared with the kernel (mapped MAP_SHARED). */
    private final MemorySegment run;

    KvmVcpu(int id, int fd, MemorySegment run) {
        this.id = id;
        this.fd = fd;
        this.run = run;
    }

    int id() {
        return id;
    }

    /** KVM_RUN: 0 after an exit to user space, or -errno (-EINTR when kicked). */
    int run() {
        return LibC.ioctlRaw(fd, Kvm.RUN, 0);
    }

    /** The kvm_run area (exit reason and exit data). */
    MemorySegment runArea() {
        return run;
    }

    int exitReason() {
        return (int) KvmLayouts.RUN_EXIT_REASON.get(run, 0L);
    }

    /** Sets or clears kvm_run.immediate_exit (any thread: a plain byte store the next KVM_RUN reads). */
    void requestImmediateExit(boolean on) {
        KvmLayouts.RUN_IMMEDIATE_EXIT.setVolatile(run, 0L, (byte) (on ? 1 : 0));
    }

    /** KVM_SET_SIGNAL_MASK: the signals blocked while the guest runs (8 bytes of kernel sigset). */
    void setSignalMask(MemorySegment kernelSigset) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(4 + LibC.KERNEL_SIGSET_BYTES, 4);
            m.set(ValueLayout.JAVA_INT, 0, LibC.KERNEL_SIGSET_BYTES);
            MemorySegment.copy(kernelSigset, 0, m, 4, LibC.KERNEL_SIGSET_BYTES);
            LibC.ioctl(fd, Kvm.SET_SIGNAL_MASK, m, "KVM_SET_SIGNAL_MASK");
        }
    }

    /** A state ioctl that reads into {@code buffer}. */
    void get(long request, MemorySegment buffer, String what) {
        LibC.ioctl(fd, request, buffer, what + " (vCPU " + id + ")");
    }

    /** A state ioctl that writes from {@code buffer}; returns its result (KVM_SET_MSRS: entries set). */
    int set(long request, MemorySegment buffer, String what) {
        return LibC.ioctl(fd, request, buffer, what + " (vCPU " + id + ")");
    }

    /** A state ioctl with its raw result (-errno on failure). */
    int raw(long request, MemorySegment buffer) {
        return LibC.ioctlRaw(fd, request, buffer);
    }

    /** Maps this vCPU's dirty ring ({@code bytes} long; the VM enabled KVM_CAP_DIRTY_LOG_RING) into {@code arena}. */
    MemorySegment mapDirtyRing(long bytes, Arena arena) {
        return LibC.mmap(bytes, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, Kvm.DIRTY_LOG_PAGE_OFFSET * 4096, arena,
                "mmap dirty ring of vCPU " + id);
    }

    void close() {
        LibC.close(fd);
    }
}
