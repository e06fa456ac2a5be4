package dev.converge.block.driver;

import dev.converge.block.BlockIOException;
import dev.converge.block.Errno;
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
 * The few POSIX calls the file driver needs, through FFM (Linux, x86-64/aarch64 numbering).
 * Each call captures errno in the same downcall (so nothing the JVM does in between can change
 * it) and turns a failure into a {@link BlockIOException} naming the call and its arguments.
 * EINTR is retried here. Buffers handed to the kernel must be native segments.
 */
final class Posix {
    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_DIRECT = 0x4000;
    static final int O_CLOEXEC = 0x80000;
    static final int O_CREAT = 0x40;
    static final int SEEK_END = 2;
    static final int SEEK_DATA = 3;
    static final int SEEK_HOLE = 4;
    static final int FALLOC_FL_KEEP_SIZE = 0x01;
    static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    static final int FALLOC_FL_ZERO_RANGE = 0x10;
    static final int EINTR = 4;
    static final int ENXIO = 6;
    static final int EOPNOTSUPP = 95;
    static final int EBADF = 9;
    static final int EXDEV = 18;
    static final int ENOSYS = 38;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final ValueLayout PTR = ValueLayout.ADDRESS;

    private static final MethodHandle OPEN = handle("open", FunctionDescriptor.of(INT, PTR, INT, INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = handle("close", FunctionDescriptor.of(INT, INT));
    private static final MethodHandle PREAD = handle("pread", FunctionDescriptor.of(LONG, INT, PTR, LONG, LONG));
    private static final MethodHandle PWRITE = handle("pwrite", FunctionDescriptor.of(LONG, INT, PTR, LONG, LONG));
    private static final MethodHandle FDATASYNC = handle("fdatasync", FunctionDescriptor.of(INT, INT));
    private static final MethodHandle LSEEK = handle("lseek", FunctionDescriptor.of(LONG, INT, LONG, INT));
    private static final MethodHandle FALLOCATE = handle("fallocate",
            FunctionDescriptor.of(INT, INT, INT, LONG, LONG));
    private static final MethodHandle COPY_FILE_RANGE = handle("copy_file_range",
            FunctionDescriptor.of(LONG, INT, PTR, INT, PTR, LONG, INT));
    private static final MethodHandle FTRUNCATE = handle("ftruncate", FunctionDescriptor.of(INT, INT, LONG));
    private static final MethodHandle STRERROR = LINKER.downcallHandle(LIBC.find("strerror").orElseThrow(),
            FunctionDescriptor.of(PTR, INT));

    private Posix() {
    }

    private static MethodHandle handle(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] opts = new Linker.Option[extra.length + 1];
        opts[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, opts, 1, extra.length);
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError(name)), fd, opts);
    }

    /** An errno returned by a call; carries the number so callers can decide (ENXIO, EOPNOTSUPP...). */
    static final class PosixError extends Exception {
        private static final long serialVersionUID = 1L;
        final int errno;

        PosixError(String call, int errno) {
            super(call + ": " + strerror(errno));
            this.errno = errno;
        }

        BlockIOException toBlock(String context) {
            return new BlockIOException(errno, context + ": " + getMessage(), this);
        }
    }

    /** What strerror(3) says; our table first, libc for the rest. */
    static String strerror(int errno) {
        Errno e = Errno.of(errno);
        if (e != null) {
            return e.strerror();
        }
        try {
            MemorySegment p = (MemorySegment) STRERROR.invokeExact(errno);
            return p.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    static int open(String path, int flags) throws PosixError {
        return open(path, flags, 0);
    }

    /** open(2) with the mode a new file gets (with O_CREAT). */
    static int open(String path, int flags, int mode) throws PosixError {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cs = a.allocateFrom(path);
            MemorySegment st = a.allocate(CAPTURE);
            for (;;) {
                int fd = (int) OPEN.invokeExact(st, cs, flags | O_CLOEXEC, mode);
                if (fd >= 0) {
                    return fd;
                }
                int err = errno(st);
                if (err != EINTR) {
                    throw new PosixError("open(" + path + ")", err);
                }
            }
        } catch (PosixError e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("open downcall", t);
        }
    }

    static void close(int fd) {
        try (Arena a = Arena.ofConfined()) {
            int r = (int) CLOSE.invokeExact(a.allocate(CAPTURE), fd);
            assert r == 0 || r == -1;
        } catch (Throwable t) {
            throw new IllegalStateException("close downcall", t);
        }
    }

    /** pread until {@code buf} is full or EOF; returns bytes read. */
    static long preadFully(int fd, MemorySegment buf, long offset) throws PosixError {
        long done = 0;
        long len = buf.byteSize();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            while (done < len) {
                long n = (long) PREAD.invokeExact(st, fd, buf.asSlice(done), len - done, offset + done);
                if (n < 0) {
                    int err = errno(st);
                    if (err == EINTR) {
                        continue;
                    }
                    throw new PosixError("pread(fd " + fd + ", " + (len - done) + " bytes at " + (offset + done) + ")",
                            err);
                }
                if (n == 0) {
                    break;
                }
                done += n;
            }
            return done;
        } catch (PosixError e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("pread downcall", t);
        }
    }

    static void pwriteFully(int fd, MemorySegment buf, long offset) throws PosixError {
        long done = 0;
        long len = buf.byteSize();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            while (done < len) {
                long n = (long) PWRITE.invokeExact(st, fd, buf.asSlice(done), len - done, offset + done);
                if (n < 0) {
                    int err = errno(st);
                    if (err == EINTR) {
                        continue;
                    }
                    throw new PosixError("pwrite(fd " + fd + ", " + (len - done) + " bytes at " + (offset + done) + ")",
                            err);
                }
                done += n;
            }
        } catch (PosixError e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("pwrite downcall", t);
        }
    }

    static void fdatasync(int fd) throws PosixError {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            for (;;) {
                int r = (int) FDATASYNC.invokeExact(st, fd);
                if (r == 0) {
                    return;
                }
                int err = errno(st);
                if (err != EINTR) {
                    throw new PosixError("fdatasync(fd " + fd + ")", err);
                }
            }
        } catch (PosixError e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("fdatasync downcall", t);
        }
    }

    static long lseek(int fd, long offset, int whence) throws PosixError {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            long r = (long) LSEEK.invokeExact(st, fd, offset, whence);
            if (r < 0) {
                throw new PosixError("lseek(fd " + fd + ", " + offset + ", " + whence + ")", errno(st));
            }
            return r;
        } catch (PosixError e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("lseek downcall", t);
        }
    }

    static void fallocate(int fd, int mode, long offset, long len) throws PosixError {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            for (;;) {
                int r = (int) FALLOCATE.invokeExact(st, fd, mode, offset, len);
                if (r == 0) {
                    return;
                }
                int err = errno(st);
                if (err != EINTR) {
                    throw new PosixError("fallocate(fd " + fd + ", mode 0x" + Integer.toHexString(mode) + ", " + offset
                            + ", " + len + ")", err);
                }
            }
        } catch (PosixError e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("fallocate downcall", t);
        }
    }

    /**
     * One copy_file_range(2) of at most {@code len} bytes from {@code in} at {@code inOffset} to
     * {@code out} at {@code outOffset} (neither descriptor's file position moves); returns the bytes
     * copied, 0 at the end of {@code in}. EINTR is retried; every other error is thrown, the
     * caller decides which mean "not here" (EXDEV, EINVAL, ENOSYS, EOPNOTSUPP, EBADF).
     */
    static long copyFileRange(int in, long inOffset, int out, long outOffset, long len) throws PosixError {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            MemorySegment offsets = a.allocate(LONG, 2);
            for (;;) {
                offsets.setAtIndex(LONG, 0, inOffset);
                offsets.setAtIndex(LONG, 1, outOffset);
                long n = (long) COPY_FILE_RANGE.invokeExact(st, in, offsets, out, offsets.asSlice(Long.BYTES), len, 0);
                if (n >= 0) {
                    return n;
                }
                int err = errno(st);
                if (err != EINTR) {
                    throw new PosixError("copy_file_range(fd " + in + " at " + inOffset + ", fd " + out + " at "
                            + outOffset + ", " + len + " bytes)", err);
                }
            }
        } catch (PosixError e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("copy_file_range downcall", t);
        }
    }

    static void ftruncate(int fd, long len) throws PosixError {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            int r = (int) FTRUNCATE.invokeExact(st, fd, len);
            if (r != 0) {
                throw new PosixError("ftruncate(fd " + fd + ", " + len + ")", errno(st));
            }
        } catch (PosixError e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("ftruncate downcall", t);
        }
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }
}
