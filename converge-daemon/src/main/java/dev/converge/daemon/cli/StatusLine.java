package dev.converge.daemon.cli;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Renders a {@link JobView} as one line of at most {@code width} characters: a pure function, so
 * `job wait` can redraw at any terminal width and tests can check every width. Fields that do
 * not fit are left out, least important first (the status and the percentage go last); the bar
 * takes what room is left, between {@value #MIN_BAR} and {@value #MAX_BAR} cells, or disappears.
 * <pre>
 * mig0 [########----------]  42%  1.2 GiB / 2.0 GiB  850.0 MB/s  ETA 0:02  pass 3  dirty 120.0 MB/s
 *      downtime 180/300 ms  throttle 20%  active  (one line)
 * </pre>
 */
final class StatusLine {
    static final int MIN_BAR = 10;
    static final int MAX_BAR = 30;
    /** Width when the output is not a terminal: every field, the widest bar. */
    static final int UNLIMITED = Integer.MAX_VALUE;

    private record Field(int order, int priority, String text) {
    }

    private StatusLine() {
    }

    static String render(JobView v, int width) {
        if (width <= 0) {
            return "";
        }
        List<Field> fields = fields(v);
        // Drop the least important fields until the rest fits with at least the narrowest bar,
        // then without a bar, then hard-truncate what is left.
        List<Field> kept = new ArrayList<>(fields);
        kept.sort(Comparator.comparingInt(Field::priority).reversed().thenComparingInt(Field::order));
        while (length(kept) + MIN_BAR + 3 > width && kept.getLast().priority() < BAR_PRIORITY) {
            kept.removeLast();
        }
        int room = width - length(kept);
        int bar = room >= MIN_BAR + 3 ? Math.min(MAX_BAR, room - 3) : 0;
        if (bar == 0) {
            while (kept.size() > 1 && length(kept) > width) {
                kept.removeLast();
            }
        }
        kept.sort(Comparator.comparingInt(Field::order));
        StringBuilder sb = new StringBuilder();
        for (Field f : kept) {
            if (!sb.isEmpty()) {
                sb.append(' ');
            }
            sb.append(f.text());
            if (f.order() == 0 && bar > 0) {
                sb.append(' ').append(bar(v, bar));
            }
        }
        return sb.length() > width ? sb.substring(0, width) : sb.toString();
    }

    /** Fields below this priority go before the bar shrinks away. */
    private static final int BAR_PRIORITY = 5;

    private static List<Field> fields(JobView v) {
        List<Field> f = new ArrayList<>();
        f.add(new Field(0, 9, v.id()));
        f.add(new Field(1, 8, String.format(Locale.ROOT, "%3d%%", (int) Math.floor(ratio(v) * 100))));
        f.add(new Field(2, 3, Units.bytes(v.current()) + " / " + Units.bytes(v.total())));
        boolean running = v.status().equals("running");
        if (!Double.isNaN(v.bytesPerSecond()) && running) {
            f.add(new Field(3, 6, Units.rate(v.bytesPerSecond())));
        }
        if (v.etaSeconds() >= 0 && running) {
            f.add(new Field(4, 6, "ETA " + Units.duration(v.etaSeconds())));
        }
        if (v.pass() >= 0) {
            f.add(new Field(5, 2, "pass " + v.pass()));
        }
        if (v.dirtyRate() >= 0) {
            f.add(new Field(6, 4, "dirty " + Units.rate(v.dirtyRate())));
        }
        if (v.expectedDowntimeMs() >= 0) {
            f.add(new Field(7, 5, "downtime " + v.expectedDowntimeMs()
                    + (v.downtimeLimitMs() >= 0 ? "/" + v.downtimeLimitMs() : "") + " ms"));
        }
        if (v.throttlePercent() > 0) {
            f.add(new Field(8, 4, "throttle " + v.throttlePercent() + "%"));
        }
        f.add(new Field(9, 10, v.status()));
        String next = v.nextStep();
        if (!next.isEmpty()) {
            f.add(new Field(10, 7, "(" + next + ")"));
        }
        return f;
    }

    private static double ratio(JobView v) {
        return v.total() <= 0 ? 0 : Math.min(1.0, Math.max(0.0, (double) v.current() / v.total()));
    }

    private static String bar(JobView v, int cells) {
        int filled = (int) Math.floor(ratio(v) * cells);
        return "[" + "#".repeat(filled) + "-".repeat(cells - filled) + "]";
    }

    private static int length(List<Field> fields) {
        int n = 0;
        for (Field f : fields) {
            n += f.text().length();
        }
        return n + Math.max(0, fields.size() - 1);
    }
}
