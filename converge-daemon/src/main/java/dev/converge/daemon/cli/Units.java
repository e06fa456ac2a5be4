package dev.converge.daemon.cli;

import java.util.Locale;

/** Human-readable quantities for the CLI's tables and progress bars. */
public final class Units {
    private static final String[] BINARY = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

    private Units() {
    }

    /** 1536 → "1.5 KiB"; values below 1 KiB are shown exactly. */
    public static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        double v = n;
        int unit = 0;
        while (v >= 1024 && unit < BINARY.length - 1) {
            v /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, v >= 100 ? "%.0f %s" : "%.1f %s", v, BINARY[unit]);
    }

    /** Bytes per second as "MB/s" with decimal megabytes, as dd and qemu-img report them. */
    public static String throughput(long bytes, long nanos) {
        if (nanos <= 0) {
            return "-";
        }
        return String.format(Locale.ROOT, "%.1f MB/s", bytes / 1e6 / (nanos / 1e9));
    }

    /** Milliseconds with one decimal. */
    public static String millis(long nanos) {
        return String.format(Locale.ROOT, "%.1f ms", nanos / 1e6);
    }

    /** A rate in decimal units ("850.0 MB/s"), as throughput shows them. */
    public static String rate(double bytesPerSecond) {
        if (bytesPerSecond >= 1e9) {
            return String.format(Locale.ROOT, "%.2f GB/s", bytesPerSecond / 1e9);
        }
        if (bytesPerSecond >= 1e6) {
            return String.format(Locale.ROOT, "%.1f MB/s", bytesPerSecond / 1e6);
        }
        return String.format(Locale.ROOT, "%.1f kB/s", bytesPerSecond / 1e3);
    }

    /** Seconds as M:SS, or H:MM:SS from an hour on. */
    public static String duration(long seconds) {
        long h = seconds / 3600;
        long m = seconds / 60 % 60;
        long s = seconds % 60;
        return h > 0 ? String.format(Locale.ROOT, "%d:%02d:%02d", h, m, s) : String.format(Locale.ROOT, "%d:%02d", m, s);
    }
}
