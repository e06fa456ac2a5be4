package dev.converge.bench.migration;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Formats the benchmark's results: one line per (workload, downtime limit, side) with total time,
 * downtime, RAM sent, throughput and passes; per (workload, downtime limit) the ratio of
 * converge's total time to QEMU's; then one note per line saying what was checked or why a side
 * has no figures. A pure function of the results, so it is tested without running anything.
 */
public final class ReportTable {
    /** Side whose time is the numerator of the ratio. */
    public static final String OURS = "converge";
    /** Side whose time is the denominator. */
    public static final String PEER = "qemu";

    /**
     * The results of one (workload, downtime limit).
     *
     * @param bySide  outcome per side name, in the order they ran
     * @param variant appended to the workload's name in the report (e.g. " (rate-matched)"), "" for none
     */
    public record Row(Workload workload, long downtimeMs, Map<String, Outcome> bySide, String variant) {
        public Row(Workload workload, long downtimeMs, Map<String, Outcome> bySide) {
            this(workload, downtimeMs, bySide, "");
        }

        /** The workload's name and the variant. */
        public String label() {
            return workload.wireName() + variant;
        }
    }

    private ReportTable() {
    }

    /** The report for {@code rows}; {@code header} (machine, accelerator, sizes) goes first. */
    public static String format(String header, List<Row> rows) {
        StringBuilder out = new StringBuilder(header).append('\n');
        out.append(String.format(Locale.ROOT, "%-22s %8s  %-9s %9s %12s %10s %9s %7s  %s%n", "workload", "limit ms", "side",
                "total ms", "downtime ms", "sent MiB", "MB/s", "passes", "downtime within limit"));
        List<String> notes = new ArrayList<>();
        for (Row row : rows) {
            for (Map.Entry<String, Outcome> e : row.bySide().entrySet()) {
                out.append(line(row, e.getKey(), e.getValue()));
                notes.add(String.format(Locale.ROOT, "%s %d ms %s: %s", row.label(), row.downtimeMs(),
                        e.getKey(), e.getValue().summary()));
            }
            out.append(String.format(Locale.ROOT, "%-22s %8d  total time %s ÷ %s: %s%n", row.label(),
                    row.downtimeMs(), OURS, PEER, ratio(row)));
        }
        out.append("\nMB/s = RAM bytes sent ÷ total time (10^6 bytes); passes = ram.dirty-sync-count;"
                + " ratio below 1 means converge is faster\n");
        notes.forEach(n -> out.append("  ").append(n).append('\n'));
        return out.toString();
    }

    /** converge's total time ÷ QEMU's, or why there is none. */
    static String ratio(Row row) {
        Outcome ours = row.bySide().get(OURS);
        Outcome peer = row.bySide().get(PEER);
        if (ours instanceof Outcome.Completed a && peer instanceof Outcome.Completed b) {
            return b.figures().totalTimeMs() <= 0 ? "n/a (QEMU total-time 0)"
                    : String.format(Locale.ROOT, "%.2f", a.figures().totalTimeMs() / (double) b.figures().totalTimeMs());
        }
        if (ours instanceof Outcome.Completed && peer instanceof Outcome.NotConverged) {
            return "converge completed, QEMU did not converge";
        }
        return "n/a (" + (ours == null ? OURS + " not run" : OURS + " " + kind(ours)) + ", "
                + (peer == null ? PEER + " not run" : PEER + " " + kind(peer)) + ")";
    }

    private static String line(Row row, String side, Outcome o) {
        String prefix = String.format(Locale.ROOT, "%-22s %8d  %-9s ", row.label(), row.downtimeMs(), side);
        return switch (o) {
            case Outcome.Completed c -> prefix + figures(c.figures())
                    + (c.figures().downtimeMs() >= 0 && c.figures().downtimeMs() <= row.downtimeMs() ? "yes" : "NO") + "\n";
            case Outcome.NotConverged n -> prefix + figures(n.figures()) + "did not converge\n";
            case Outcome.Unavailable u -> prefix + String.format(Locale.ROOT, "%9s %12s %10s %9s %7s  ", "-", "-", "-", "-", "-")
                    + "unavailable\n";
            case Outcome.Failed f -> prefix + String.format(Locale.ROOT, "%9s %12s %10s %9s %7s  ", "-", "-", "-", "-", "-")
                    + "FAILED\n";
        };
    }

    private static String figures(MigrationFigures f) {
        return String.format(Locale.ROOT, "%9d %12s %10.1f %9.1f %7d  ", f.totalTimeMs(),
                f.downtimeMs() < 0 ? "-" : Long.toString(f.downtimeMs()), f.transferredMiB(), f.throughputMBps(),
                f.dirtySyncCount());
    }

    private static String kind(Outcome o) {
        return switch (o) {
            case Outcome.Completed c -> "completed";
            case Outcome.NotConverged n -> "did not converge";
            case Outcome.Unavailable u -> "unavailable";
            case Outcome.Failed f -> "failed";
        };
    }
}
