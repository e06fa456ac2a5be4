package dev.converge.bench;

import java.util.Locale;

/**
 * Sizes on the benchmarks' command lines and in their reports: binary suffixes, as qemu-img
 * reads them; the one parser every benchmark uses, so each option names itself in its errors.
 */
public final class Sizes {
    public static final long KiB = 1L << 10;
    public static final long MiB = 1L << 20;
    public static final long GiB = 1L << 30;

    private Sizes() {
    }

    /**
     * Parses a byte count with an optional suffix K, M, G or T (powers of 1024; a trailing B is
     * allowed); no suffix means bytes.
     *
     * @param option the option being parsed, named in the error
     * @throws IllegalArgumentException naming the option and the bad text
     */
    public static long parse(String option, String text) {
        return parse(option, text, 0);
    }

    /**
     * As {@link #parse(String, String)}, but a number without a suffix counts MiB, as QEMU's {@code -m}
     * reads a guest's memory size.
     */
    public static long parseMiB(String option, String text) {
        return parse(option, text, 20);
    }

    private static long parse(String option, String text, int shiftWithoutSuffix) {
        String t = text.strip().toUpperCase(Locale.ROOT);
        if (t.endsWith("IB")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("B") && t.length() > 1 && !Character.isDigit(t.charAt(t.length() - 2))) {
            t = t.substring(0, t.length() - 1);
        }
        int shift = shiftWithoutSuffix;
        if (!t.isEmpty() && !Character.isDigit(t.charAt(t.length() - 1))) {
            shift = switch (t.charAt(t.length() - 1)) {
                case 'K' -> 10;
                case 'M' -> 20;
                case 'G' -> 30;
                case 'T' -> 40;
                default -> throw bad(option, text);
            };
            t = t.substring(0, t.length() - 1);
        }
        long n;
        try {
            n = Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw bad(option, text);
        }
        if (n <= 0 || n > (Long.MAX_VALUE >> shift)) {
            throw new IllegalArgumentException(option + ": '" + text + "' (expected: > 0 and below 2^63 bytes)");
        }
        return n << shift;
    }

    /** {@code bytes} for a human: the largest binary unit that keeps the number at least 1. */
    public static String human(long bytes) {
        if (bytes >= GiB) {
            return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) GiB);
        }
        if (bytes >= MiB) {
            return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) MiB);
        }
        if (bytes >= KiB) {
            return String.format(Locale.ROOT, "%.1f KiB", bytes / (double) KiB);
        }
        return bytes + " B";
    }

    private static IllegalArgumentException bad(String option, String text) {
        return new IllegalArgumentException(option + ": '" + text + "' (expected: a number with optional suffix K, M, G or T)");
    }
}
