package dev.converge.block;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lowers the CPU priority (raises the nice value) of the calling platform thread, for the block
 * jobs' copy threads: a guest's request must win the CPU over background copying. On a 2-CPU
 * host a mirror's sixteen copy threads otherwise kept the thread that serves the guest's NBD
 * write runnable but off the CPU for tens of milliseconds (issue 13: the writer fell to 55 % of
 * its rate in a 250 ms window); with the copies at nice +10 it kept its rate in every window.
 *
 * <p>Linux keeps the nice value per thread: {@code setpriority(PRIO_PROCESS, 0, n)} changes the
 * calling thread only, and threads it creates inherit it. Raising one's own nice value needs no
 * privilege. Where the call is unavailable or refused the thread keeps its priority (logged once):
 * the copy still works, only without the preference.
 */
public final class BackgroundPriority {
    /** How much nicer than their creator copy threads run: CFS weight 110 against 1024 at nice 0. */
    public static final int COPY_NICE_INCREMENT = 10;
    /** The highest nice value Linux knows. */
    static final int MAX_NICE = 19;

    private static final Logger LOG = LoggerFactory.getLogger(BackgroundPriority.class);
    private static final int PRIO_PROCESS = 0;
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Optional<MethodHandle> GETPRIORITY = bind("getpriority",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final Optional<MethodHandle> SETPRIORITY = bind("setpriority",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static volatile boolean warned;

    private BackgroundPriority() {
    }

    private static Optional<MethodHandle> bind(String name, FunctionDescriptor fd) {
        Linker linker = Linker.nativeLinker();
        return linker.defaultLookup().find(name)
                .map(sym -> linker.downcallHandle(sym, fd, Linker.Option.captureCallState("errno")));
    }

    /** The nice value a thread gets from {@link #lowerCallingThread}: {@code current + increment}, at most 19. */
    static int loweredNice(int current, int increment) {
        return Math.min(MAX_NICE, current + increment);
    }

    /**
     * Raises the calling thread's nice value by {@link #COPY_NICE_INCREMENT} (at most to 19).
     * Call it first thing on a platform thread that only does background work.
     *
     * @return the thread's nice value afterwards, or empty where it could not be read or set
     */
    public static Optional<Integer> lowerCallingThread() {
        if (GETPRIORITY.isEmpty() || SETPRIORITY.isEmpty()) {
            warnOnce("getpriority/setpriority not found");
            return Optional.empty();
        }
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            ERRNO.set(state, 0L, 0);
            // getpriority may return -1 as a value: only errno tells an error apart
            int current = (int) GETPRIORITY.get().invokeExact(state, PRIO_PROCESS, 0);
            if (current == -1 && (int) ERRNO.get(state, 0L) != 0) {
                warnOnce("getpriority: errno " + (int) ERRNO.get(state, 0L));
                return Optional.empty();
            }
            int nice = loweredNice(current, COPY_NICE_INCREMENT);
            if ((int) SETPRIORITY.get().invokeExact(state, PRIO_PROCESS, 0, nice) != 0) {
                warnOnce("setpriority: errno " + (int) ERRNO.get(state, 0L));
                return Optional.empty();
            }
            return Optional.of(nice);
        } catch (Throwable t) {
            warnOnce(String.valueOf(t));
            return Optional.empty();
        }
    }

    private static void warnOnce(String why) {
        if (!warned) {
            warned = true;
            LOG.warn("copy threads keep the daemon's CPU priority ({}): guest requests may wait behind copies", why);
        }
    }
}
