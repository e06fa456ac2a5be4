package dev.converge.bench.joint;

import java.time.Duration;

/**
 * What {@link JointBench} runs: one machine of {@code memory} RAM with one {@code disk}-sized
 * disk, the pattern workload dirtying RAM at {@code dirtyRate} bytes per second and writing its
 * disk, migrated {@code runs} times alone and {@code runs} times as a joint transaction.
 *
 * @param memory     guest RAM in bytes
 * @param disk       disk size in bytes
 * @param dirtyRate  bytes of RAM the workload dirties per second
 * @param downtimeMs the migration's downtime-limit in ms
 * @param runs       runs per mode
 * @param timeout    how long one run may take before it is given up
 * @param copyMode   the mirror's copy-mode: write-blocking (default) or background
 */
record JointOptions(long memory, long disk, long dirtyRate, long downtimeMs, int runs, Duration timeout,
        String copyMode) {
    static JointOptions defaults() {
        return new JointOptions(512L << 20, 256L << 20, 64L << 20, 300, 1, Duration.ofMinutes(3), "write-blocking");
    }

    /**
     * Parses {@code --memory 512M --disk 256M --dirty-rate 64M --downtime 300 --runs 1 --timeout 180 --copy-mode write-blocking}.
     *
     * @throws IllegalArgumentException naming the bad option or value
     */
    static JointOptions parse(String[] args) {
        JointOptions o = defaults();
        for (int i = 0; i < args.length; i += 2) {
            String name = args[i];
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(name + ": missing value");
            }
            String v = args[i + 1];
            o = switch (name) {
                case "--memory" -> new JointOptions(size(name, v), o.disk, o.dirtyRate, o.downtimeMs, o.runs, o.timeout, o.copyMode);
                case "--disk" -> new JointOptions(o.memory, size(name, v), o.dirtyRate, o.downtimeMs, o.runs, o.timeout, o.copyMode);
                case "--dirty-rate" -> new JointOptions(o.memory, o.disk, size(name, v), o.downtimeMs, o.runs, o.timeout, o.copyMode);
                case "--downtime" -> new JointOptions(o.memory, o.disk, o.dirtyRate, number(name, v), o.runs, o.timeout, o.copyMode);
                case "--runs" -> new JointOptions(o.memory, o.disk, o.dirtyRate, o.downtimeMs, (int) number(name, v),
                        o.timeout, o.copyMode);
                case "--timeout" -> new JointOptions(o.memory, o.disk, o.dirtyRate, o.downtimeMs, o.runs,
                        Duration.ofSeconds(number(name, v)), o.copyMode);
                case "--copy-mode" -> {
                    if (!v.equals("background") && !v.equals("write-blocking")) {
                        throw new IllegalArgumentException("--copy-mode: '" + v + "' (expected: background, write-blocking)");
                    }
                    yield new JointOptions(o.memory, o.disk, o.dirtyRate, o.downtimeMs, o.runs, o.timeout, v);
                }
                default -> throw new IllegalArgumentException("unknown option '" + name
                        + "' (expected: --memory, --disk, --dirty-rate, --downtime, --runs, --timeout, --copy-mode)");
            };
        }
        if (o.memory % 4096 != 0 || o.memory <= 0 || o.disk % 4096 != 0 || o.disk <= 0 || o.runs < 1) {
            throw new IllegalArgumentException("--memory and --disk: positive multiples of 4 KiB; --runs: at least 1");
        }
        return o;
    }

    /** A size with an optional K, M or G suffix (powers of 1024). */
    static long size(String name, String v) {
        long unit = switch (v.isEmpty() ? ' ' : Character.toUpperCase(v.charAt(v.length() - 1))) {
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            default -> 1;
        };
        return number(name, unit == 1 ? v : v.substring(0, v.length() - 1)) * unit;
    }

    private static long number(String name, String v) {
        try {
            long n = Long.parseLong(v);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + ": '" + v + "' (expected: a non-negative integer)", e);
        }
    }
}
