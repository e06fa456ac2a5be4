package dev.converge.migration.machine;

import java.math.BigDecimal;

/**
 * Size strings as QEMU parses them ({@code qemu_strtosz}): a decimal number, optionally with a
 * fraction (either side of the point may be empty), followed by an optional suffix B, K, M, G, T,
 * P or E (either case, powers of 1024); or a hexadecimal number ({@code 0x...}) without a suffix.
 * As QEMU, no "KiB" or "MB" and no hexadecimal with a suffix.
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
        if (s.matches("0[xX][0-9a-fA-F]+")) {
            // QEMU takes hexadecimal in the default unit, never with a suffix: 0x1B is 27, not 1 byte
            BigDecimal hex = new BigDecimal(new java.math.BigInteger(s.substring(2), 16));
            return checked(what, text, hex.multiply(BigDecimal.valueOf(defaultUnit)));
        }
        long unit = defaultUnit;
        char last = Character.toUpperCase(s.charAt(s.length() - 1));
        int shift = "BKMGTPE".indexOf(last);
        if (shift >= 0) {
            unit = 1L << (10 * shift);
            s = s.substring(0, s.length() - 1);
        }
        if (s.isEmpty() || !s.matches("[0-9]*(\\.[0-9]*)?") || s.equals(".")) {
            throw new IllegalArgumentException(what + ": '" + text + "' is not a size (expected: a number with optional suffix B/K/M/G/T/P/E)");
        }
        return checked(what, text, new BigDecimal(s.startsWith(".") ? "0" + s : s).multiply(BigDecimal.valueOf(unit)));
    }

    private static long checked(String what, String text, BigDecimal value) {
        if (value.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new IllegalArgumentException(what + ": '" + text + "' is too large");
        }
        if (value.stripTrailingZeros().scale() > 0) {
            throw new IllegalArgumentException(what + ": '" + text + "' is not a whole number of bytes");
        }
        return value.longValueExact();
    }
}
