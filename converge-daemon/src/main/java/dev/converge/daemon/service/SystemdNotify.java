package dev.converge.daemon.service;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * systemd's readiness protocol (sd_notify(3)): one datagram such as {@code READY=1} to the UNIX
 * socket named by {@code $NOTIFY_SOCKET} (a path, or an abstract name written with a leading
 * '@'). The JDK has no UNIX datagram channel, so this calls socket(2) and sendto(2) through FFM.
 * Without {@code $NOTIFY_SOCKET} (not under systemd) every call does nothing. Failures are
 * returned, not thrown: a missing notification must not stop the daemon.
 */
public final class SystemdNotify {
    private static final int AF_UNIX = 1;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int MSG_NOSIGNAL = 0x4000;
    /** struct sockaddr_un: sa_family_t sun_family; char sun_path[108]. */
    private static final int SUN_PATH_MAX = 108;
    private static final StructLayout ERRNO = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO_VALUE = ERRNO.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private final String socket;

    private SystemdNotify(String socket) {
        this.socket = socket;
    }

    /** The notifier for this process's environment. */
    public static SystemdNotify fromEnvironment() {
        return new SystemdNotify(System.getenv("NOTIFY_SOCKET"));
    }

    /** A notifier for a given socket name (tests). */
    public static SystemdNotify to(String socket) {
        return new SystemdNotify(socket);
    }

    public boolean enabled() {
        return socket != null && !socket.isEmpty();
    }

    /**
     * Sends {@code state} (e.g. "READY=1\nSTATUS=serving") once.
     *
     * @return empty when sent or when there is no socket; otherwise what went wrong
     */
    public Optional<String> notify(String state) {
        if (!enabled()) {
            return Optional.empty();
        }
        byte[] name = socket.getBytes(StandardCharsets.UTF_8);
        if (name.length >= SUN_PATH_MAX || (name[0] != '/' && name[0] != '@')) {
            return Optional.of("NOTIFY_SOCKET '" + socket + "': not an absolute path or @abstract name");
        }
        boolean abstractName = name[0] == '@';
        try (Arena arena = Arena.ofConfined()) {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            Linker.Option errno = Linker.Option.captureCallState("errno");
            MethodHandle socketFn = linker.downcallHandle(libc.find("socket").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                            ValueLayout.JAVA_INT), errno);
            MethodHandle sendto = linker.downcallHandle(libc.find("sendto").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                            ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT), errno);
            MethodHandle close = linker.downcallHandle(libc.find("close").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            MemorySegment state0 = arena.allocate(ERRNO);
            int fd = (int) socketFn.invokeExact(state0, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                return Optional.of("socket(AF_UNIX, SOCK_DGRAM): errno " + (int) ERRNO_VALUE.get(state0, 0L));
            }
            try {
                MemorySegment addr = arena.allocate(2 + SUN_PATH_MAX);
                addr.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
                MemorySegment.copy(name, 0, addr, ValueLayout.JAVA_BYTE, 2, name.length);
                if (abstractName) {
                    addr.set(ValueLayout.JAVA_BYTE, 2, (byte) 0); // '@' stands for the leading NUL
                }
                // An abstract name's length is exact; a path's includes its terminating NUL.
                int addrLen = 2 + name.length + (abstractName ? 0 : 1);
                byte[] message = state.getBytes(StandardCharsets.UTF_8);
                MemorySegment msg = arena.allocateFrom(ValueLayout.JAVA_BYTE, message);
                long sent = (long) sendto.invokeExact(state0, fd, msg, (long) message.length, MSG_NOSIGNAL, addr, addrLen);
                if (sent < 0) {
                    return Optional.of("sendto " + socket + ": errno " + (int) ERRNO_VALUE.get(state0, 0L));
                }
                return Optional.empty();
            } finally {
                int ignored = (int) close.invokeExact(fd);
            }
        } catch (Throwable t) {
            return Optional.of("sd_notify through FFM failed: " + t);
        }
    }
}
