package dev.converge.migration.machine;

import java.math.BigDecimal;

/**
 * Size strings as QEMU parses them ({@code qemu_strtosz}): a number, optionally with a
 * fraction, followed by an optional suffix B, K, M, G, T, P or E (either case, powers of 1024).
 */
public final class Sizes {
    private Sizes() {
    }

    /**
     * Parses {@code text}; without a suffix the number is in units of {@code defaultUnit}
     * (QEMU's {@code -m} uses MiB, everything else bytes).
     *
     * @param what names the value in the error message, e.g. "memory"
     * @throws IllegalArgumentException naming {@code what} and the text when it is not a size
     */
    public static long parse(String what, String text, long defaultUnit) {
        String s = text.trim();
        if (s.isEmpty()) {
            throw new IllegalArgumentException(what + ": empty size (expected: a number with optional suffix B/K/M/G/T/P/E)");
        }
        long unit = defaultUnit;
        char last = Character.toUpperCase(s.charAt(s.length() - 1));
        int shift = "BKMGTPE".indexOf(last);
        if (shift >= 0) {
            unit = 1L << (10 * shift);
            s = s.substring(0, s.length() - 1);
        }
        if (s.isEmpty() || !s.matches("[0-9]+(\\.[0-9]+)?")) {
            throw new IllegalArgumentException(what + ": '" + text + "' is not a size (expected: a number with optional suffix B/K/M/G/T/P/E)");
        }
        BigDecimal value = new BigDecimal(s).multiply(BigDecimal.valueOf(unit));
        if (value.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new IllegalArgumentException(what + ": '" + text + "' is too large");
        }
        if (value.stripTrailingZeros().scale() > 0) {
            throw new IllegalArgumentException(what + ": '" + text + "' is not a whole number of bytes");
        }
        return value.longValueExact();
    }
}
