package dev.converge.daemon.cli;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * What the CLI needs to know about its standard output: whether it is a terminal, and how wide
 * the terminal is now. Asked of the kernel through FFM ({@code isatty}, {@code ioctl(TIOCGWINSZ)})
 * because the JDK tells neither for stdout alone ({@code System.console()} also looks at stdin).
 * Any failure (no native access, not Linux) answers "not a terminal", so the CLI then prints
 * plain lines; the width falls back to {@code $COLUMNS}, then 80.
 */
public final class Terminal {
    /** Linux's ioctl request for the window size (asm-generic and x86). */
    private static final long TIOCGWINSZ = 0x5413;
    private static final int STDOUT = 1;
    private static final int FALLBACK_WIDTH = 80;

    private static final MethodHandle ISATTY;
    private static final MethodHandle IOCTL;

    static {
        MethodHandle isatty = null;
        MethodHandle ioctl = null;
        try {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            isatty = linker.downcallHandle(libc.find("isatty").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            ioctl = linker.downcallHandle(libc.find("ioctl").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
                            ValueLayout.ADDRESS),
                    Linker.Option.firstVariadicArg(2));
        } catch (RuntimeException | LinkageError e) {
            // No native access: behave as if stdout were a file.
        }
        ISATTY = isatty;
        IOCTL = ioctl;
    }

    private Terminal() {
    }

    /** Whether standard output is a terminal. */
    public static boolean stdoutIsTerminal() {
        if (ISATTY == null) {
            return false;
        }
        try {
            return (int) ISATTY.invokeExact(STDOUT) == 1;
        } catch (Throwable t) {
            return false;
        }
    }

    /** Columns of the terminal on standard output now ($COLUMNS or 80 when the kernel does not say). */
    public static int width() {
        if (IOCTL != null) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment winsize = arena.allocate(8); // struct winsize: 4 unsigned shorts
                if ((int) IOCTL.invokeExact(STDOUT, TIOCGWINSZ, winsize) == 0) {
                    int cols = Short.toUnsignedInt(winsize.get(ValueLayout.JAVA_SHORT, 2));
                    if (cols > 0) {
                        return cols;
                    }
                }
            } catch (Throwable t) {
                // fall through to $COLUMNS
            }
        }
        try {
            int cols = Integer.parseInt(System.getenv().getOrDefault("COLUMNS", ""));
            return cols > 0 ? cols : FALLBACK_WIDTH;
        } catch (NumberFormatException e) {
            return FALLBACK_WIDTH;
        }
    }
}
