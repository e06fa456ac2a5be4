package dev.converge.daemon.service;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A fake systemd for tests: a bound UNIX datagram socket (FFM: socket, bind, setsockopt
 * SO_RCVTIMEO, recv), since the JDK has none. One receive waits at most the given seconds.
 */
public final class DatagramReceiver implements AutoCloseable {
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVTIMEO = 20;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SOCKET = handle("socket", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle BIND = handle("bind", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle SETSOCKOPT = handle("setsockopt", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle RECV = handle("recv", FunctionDescriptor.of(ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle CLOSE = handle("close", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT));

    private final int fd;

    private static MethodHandle handle(String name, FunctionDescriptor d) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d);
    }

    public DatagramReceiver(Path path, long timeoutSeconds) throws Throwable {
        fd = (int) SOCKET.invokeExact(1, 2, 0); // AF_UNIX, SOCK_DGRAM
        if (fd < 0) {
            throw new IllegalStateException("socket failed");
        }
        try (Arena arena = Arena.ofConfined()) {
            byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
            MemorySegment addr = arena.allocate(110);
            addr.set(ValueLayout.JAVA_SHORT, 0, (short) 1);
            MemorySegment.copy(name, 0, addr, ValueLayout.JAVA_BYTE, 2, name.length);
            if ((int) BIND.invokeExact(fd, addr, 110) != 0) {
                throw new IllegalStateException("bind " + path + " failed");
            }
            MemorySegment tv = arena.allocate(16); // struct timeval
            tv.set(ValueLayout.JAVA_LONG, 0, timeoutSeconds);
            if ((int) SETSOCKOPT.invokeExact(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16) != 0) {
                throw new IllegalStateException("setsockopt failed");
            }
        }
    }

    /** The next datagram, or null when none came in time. */
    public String receive() throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(4096);
            long n = (long) RECV.invokeExact(fd, buf, 4096L, 0);
            return n < 0 ? null : new String(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        }
    }

    @Override
    public void close() throws Exception {
        try {
            int ignored = (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
