package dev.converge.bench.mirror;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

/**
 * How much of a file holds data, by {@code lseek(SEEK_DATA)} and {@code lseek(SEEK_HOLE)} through
 * the FFM API (the JDK has no SEEK_DATA). Holes count as unallocated; data extents as reported by
 * the file system, which may round to its block size.
 */
final class Allocation {
    private static final int O_RDONLY = 0;
    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;
    /** lseek(SEEK_DATA) at or beyond the last data: no more data. */
    private static final int ENXIO = 6;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");
    private static final MethodHandle OPEN = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("open"),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT), CAPTURE);
    private static final MethodHandle LSEEK = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("lseek"),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT),
            CAPTURE);
    private static final MethodHandle CLOSE = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("close"),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private Allocation() {
    }

    /**
     * Bytes of {@code file} inside data extents (up to its size).
     *
     * @throws IOException the file cannot be opened or the file system refuses SEEK_DATA
     */
    static long allocatedBytes(Path file, long size) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(file.toString()), O_RDONLY);
            if (fd < 0) {
                throw new IOException("open " + file + ": errno " + errno(state));
            }
            try {
                long total = 0;
                long pos = 0;
                while (pos < size) {
                    long data = (long) LSEEK.invokeExact(state, fd, pos, SEEK_DATA);
                    if (data < 0) {
                        int err = errno(state);
                        if (err == ENXIO) {
                            break;
                        }
                        throw new IOException("lseek(SEEK_DATA) on " + file + " at " + pos + ": errno " + err);
                    }
                    long hole = (long) LSEEK.invokeExact(state, fd, data, SEEK_HOLE);
                    if (hole < 0) {
                        throw new IOException("lseek(SEEK_HOLE) on " + file + " at " + data + ": errno " + errno(state));
                    }
                    total += Math.min(hole, size) - data;
                    pos = hole;
                }
                return total;
            } finally {
                int ignored = (int) CLOSE.invokeExact(fd);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException("native call failed on " + file, t);
        }
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }
}
