package dev.converge.migration.machine.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The few C library calls the KVM accelerator needs, bound through the FFM API (no JNI).
 * Every call that can fail captures {@code errno} and throws {@link NativeException} naming
 * the call; none of them keeps state.
 */
final class LibC {
    static final int O_RDWR = 2;
    static final int O_CLOEXEC = 0x80000;
    static final int PROT_READ = 1;
    static final int PROT_WRITE = 2;
    static final int MAP_SHARED = 0x01;
    static final int MAP_PRIVATE = 0x02;
    static final int MAP_ANONYMOUS = 0x20;
    static final int MAP_NORESERVE = 0x4000;
    static final int SIG_BLOCK = 0;
    static final int SIG_UNBLOCK = 1;
    static final int EINTR = 4;
    static final int EAGAIN = 11;
    /** glibc's sigset_t is 1024 bits; the kernel's (and KVM's) is 64. */
    static final int LIBC_SIGSET_BYTES = 128;
    static final int KERNEL_SIGSET_BYTES = 8;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option ERRNO_OPTION = Linker.Option.captureCallState("errno");

    private static final MethodHandle OPEN = bind("open", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT), true, 2);
    private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), true, -1);
    private static final MethodHandle IOCTL_LONG = bind("ioctl",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG), true, 2);
    private static final MethodHandle IOCTL_PTR = bind("ioctl",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS), true, 2);
    private static final MethodHandle MMAP = bind("mmap", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS,
            ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG), true, -1);
    private static final MethodHandle MADVISE = bind("madvise",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT), true, -1);
    private static final MethodHandle MUNMAP = bind("munmap",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG), true, -1);
    private static final MethodHandle PTHREAD_SIGMASK = bind("pthread_sigmask",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS), false, -1);
    private static final MethodHandle SIGTIMEDWAIT = bind("sigtimedwait",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS), true, -1);
    private static final MethodHandle GETTID = bind("gettid", FunctionDescriptor.of(ValueLayout.JAVA_INT), false, -1);
    private static final MethodHandle GETPID = bind("getpid", FunctionDescriptor.of(ValueLayout.JAVA_INT), false, -1);
    private static final MethodHandle TGKILL = bind("tgkill",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), true, -1);
    private static final MethodHandle SIGRTMIN = bind("__libc_current_sigrtmin", FunctionDescriptor.of(ValueLayout.JAVA_INT), false, -1);

    private LibC() {
    }

    private static MethodHandle bind(String name, FunctionDescriptor fd, boolean errno, int firstVariadic) {
        MemorySegment symbol = LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc lacks " + name));
        Linker.Option[] options;
        if (errno && firstVariadic >= 0) {
            options = new Linker.Option[] {ERRNO_OPTION, Linker.Option.firstVariadicArg(firstVariadic)};
        } else if (errno) {
            options = new Linker.Option[] {ERRNO_OPTION};
        } else {
            options = new Linker.Option[0];
        }
        MethodHandle h = LINKER.downcallHandle(symbol, fd, options);
        return h;
    }

    /** Holds the errno capture segment of the calling thread's current call. */
    private static final ThreadLocal<MemorySegment> CAPTURED = ThreadLocal.withInitial(() -> Arena.global().allocate(CAPTURE));

    private static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** open(2); returns the descriptor. */
    static int open(String path, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = CAPTURED.get();
            int fd = (int) OPEN.invokeExact(cap, a.allocateFrom(path), flags);
            if (fd < 0) {
                throw new NativeException("open " + path, errno(cap));
            }
            return fd;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** close(2); errors are ignored (the descriptor is gone either way). */
    static void close(int fd) {
        try {
            int ignored = (int) CLOSE.invokeExact(CAPTURED.get(), fd);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** ioctl(2) with an integer argument; returns its non-negative result. */
    static int ioctl(int fd, long request, long arg, String what) {
        int r = ioctlRaw(fd, request, arg);
        if (r < 0) {
            throw new NativeException(what, -r);
        }
        return r;
    }

    /** ioctl(2) with a pointer argument; returns its non-negative result. */
    static int ioctl(int fd, long request, MemorySegment arg, String what) {
        int r = ioctlRaw(fd, request, arg);
        if (r < 0) {
            throw new NativeException(what, -r);
        }
        return r;
    }

    /** ioctl(2) with an integer argument: the result, or -errno. */
    static int ioctlRaw(int fd, long request, long arg) {
        try {
            MemorySegment cap = CAPTURED.get();
            int r = (int) IOCTL_LONG.invokeExact(cap, fd, request, arg);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** ioctl(2) with a pointer argument: the result, or -errno. */
    static int ioctlRaw(int fd, long request, MemorySegment arg) {
        try {
            MemorySegment cap = CAPTURED.get();
            int r = (int) IOCTL_PTR.invokeExact(cap, fd, request, arg);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** mmap(2) of {@code size} bytes; the segment is unmapped when {@code arena} closes. */
    static MemorySegment mmap(long size, int prot, int flags, int fd, long offset, Arena arena, String what) {
        try {
            MemorySegment cap = CAPTURED.get();
            MemorySegment p = (MemorySegment) MMAP.invokeExact(cap, MemorySegment.NULL, size, prot, flags, fd, offset);
            if (p.address() == -1L) {
                throw new NativeException(what, errno(cap));
            }
            return p.reinterpret(size, arena, LibC::munmap);
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** madvise(2) advice: back the range with transparent huge pages where the kernel can. */
    static final int MADV_HUGEPAGE = 14;

    /** madvise(2) of all of {@code s}; returns 0 or the errno (advice is best effort: callers decide). */
    static int madvise(MemorySegment s, int advice) {
        try {
            MemorySegment cap = CAPTURED.get();
            int r = (int) MADVISE.invokeExact(cap, s, s.byteSize(), advice);
            return r < 0 ? errno(cap) : 0;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static void munmap(MemorySegment s) {
        try {
            int ignored = (int) MUNMAP.invokeExact(CAPTURED.get(), s, s.byteSize());
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** A glibc sigset_t holding only {@code signal}. */
    static MemorySegment sigset(Arena arena, int signal) {
        MemorySegment set = arena.allocate(LIBC_SIGSET_BYTES);
        set.fill((byte) 0);
        int bit = signal - 1;
        set.set(ValueLayout.JAVA_BYTE, bit / 8, (byte) (1 << (bit % 8)));
        return set;
    }

    /** pthread_sigmask(3) for the calling thread; {@code old} may be NULL. */
    static void pthreadSigmask(int how, MemorySegment set, MemorySegment old) {
        try {
            int r = (int) PTHREAD_SIGMASK.invokeExact(how, set, old);
            if (r != 0) {
                throw new NativeException("pthread_sigmask", r);
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * Takes a pending signal of {@code set} without waiting (sigtimedwait with a zero timeout).
     *
     * @return the signal taken, or 0 when none was pending
     */
    static int takePendingSignal(MemorySegment set, MemorySegment zeroTimespec) {
        try {
            MemorySegment cap = CAPTURED.get();
            int r = (int) SIGTIMEDWAIT.invokeExact(cap, set, MemorySegment.NULL, zeroTimespec);
            if (r < 0) {
                int e = errno(cap);
                if (e == EAGAIN || e == EINTR) {
                    return 0;
                }
                throw new NativeException("sigtimedwait", e);
            }
            return r;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The calling thread's kernel thread id. */
    static int gettid() {
        try {
            return (int) GETTID.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** This process's id. */
    static int getpid() {
        try {
            return (int) GETPID.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** tgkill(2): sends {@code signal} to one thread of this process. */
    static void tgkill(int pid, int tid, int signal) {
        try {
            MemorySegment cap = CAPTURED.get();
            int r = (int) TGKILL.invokeExact(cap, pid, tid, signal);
            if (r < 0) {
                throw new NativeException("tgkill " + tid, errno(cap));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The first real-time signal glibc leaves to applications (SIGRTMIN). */
    static int sigrtmin() {
        try {
            return (int) SIGRTMIN.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
