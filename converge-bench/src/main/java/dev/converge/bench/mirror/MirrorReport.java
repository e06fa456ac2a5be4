package dev.converge.bench.mirror;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Formats the results: one line per (case, copy mode, side) with the runs, the median, minimum and
 * maximum time to READY, MB/s (allocated bytes ÷ median time) and how many runs verified; per
 * (case, mode) the ratios qemu-storage-daemon ÷ converged and cp ÷ converged (above 1: converged
 * faster); then a note per run that did not end READY. A pure function of the results.
 */
public final class MirrorReport {
    /** The side label of the {@code cp --sparse=always} baseline. */
    public static final String CP = "cp --sparse=always";
    /**
     * The fio case's floor: cp of the source beside the daemon while fio writes through the
     * daemon's export (no mirror): what the machine leaves the writer while any copy runs.
     */
    public static final String CP_BESIDE_FIO = "cp beside (floor)";

    /**
     * The results of one (case, copy mode).
     *
     * @param name      the case as the report shows it ("full", "sparse", "writer")
     * @param mode      copy mode of the mirrors
     * @param allocated bytes of data in the source (MB/s is computed from it)
     * @param bySide    the runs per side label, in the order the sides are shown
     */
    public record Row(String name, CopyMode mode, long allocated, Map<String, List<RunOutcome>> bySide) {
        /** Copies the map, keeping its order. */
        public Row {
            bySide = new LinkedHashMap<>(bySide);
        }
    }

    /**
     * What the runs of one side add up to; times are of the {@link RunOutcome.Ready} runs only.
     *
     * @param runs   all runs
     * @param ready  runs that ended READY and verified
     * @param median median nanoseconds to READY (upper median for an even count), -1 if none
     * @param min    fastest, -1 if none
     * @param max    slowest, -1 if none
     */
    record Summary(int runs, int ready, long median, long min, long max) {
        static Summary of(List<RunOutcome> outcomes) {
            long[] t = outcomes.stream().filter(o -> o instanceof RunOutcome.Ready).mapToLong(o -> ((RunOutcome.Ready) o)
                    .readyNanos()).sorted().toArray();
            if (t.length == 0) {
                return new Summary(outcomes.size(), 0, -1, -1, -1);
            }
            return new Summary(outcomes.size(), t.length, t[t.length / 2], t[0], t[t.length - 1]);
        }
    }

    private MirrorReport() {
    }

    /** The report for {@code rows}; {@code header} (sizes, directory, cache note) goes first. */
    public static String format(String header, List<Row> rows) {
        StringBuilder out = new StringBuilder(header).append('\n');
        out.append(String.format(Locale.ROOT, "%-7s %-15s %-20s %5s %11s %11s %11s %9s  %s%n", "case", "copy-mode", "side",
                "runs", "READY ms", "min ms", "max ms", "MB/s", "target == source"));
        List<String> notes = new ArrayList<>();
        for (Row row : rows) {
            for (Map.Entry<String, List<RunOutcome>> e : row.bySide().entrySet()) {
                Summary s = Summary.of(e.getValue());
                out.append(line(row, e.getKey(), s, e.getValue()));
                for (int i = 0; i < e.getValue().size(); i++) {
                    RunOutcome o = e.getValue().get(i);
                    if (!(o instanceof RunOutcome.Ready) || ((RunOutcome.Ready) o).writer() != null) {
                        notes.add(String.format(Locale.ROOT, "%s %s %s run %d: %s", row.name(), modeName(row, e.getKey()),
                                e.getKey(), i + 1, o.summary()));
                    }
                }
            }
            out.append(String.format(Locale.ROOT, "%-7s %-15s ratio %s ÷ %s: %s", row.name(), row.mode().wireName(),
                    Side.QSD.label(), Side.CONVERGED.label(), ratio(row, Side.QSD.label())));
            if (row.bySide().containsKey(CP)) {
                out.append("; cp ÷ converged: ").append(ratio(row, CP));
            }
            out.append('\n');
        }
        out.append(guestTable(rows));
        out.append("\nREADY ms = median over the runs of the time from blockdev-mirror's reply to BLOCK_JOB_READY"
                + " (cp: the whole copy); MB/s = allocated bytes ÷ median time (10^6 B/s); ratio above 1 means converged is faster\n");
        notes.forEach(n -> out.append("  ").append(n).append('\n'));
        return out.toString();
    }

    /**
     * For rows with fio figures: per side, the longest guest write over the runs, the median p99
     * and the worst 250 ms window over the runs, against the write rate asked for.
     */
    static String guestTable(List<Row> rows) {
        StringBuilder out = new StringBuilder();
        for (Row row : rows) {
            for (Map.Entry<String, List<RunOutcome>> e : row.bySide().entrySet()) {
                double[] longest = e.getValue().stream().filter(o -> o instanceof RunOutcome.Ready r && r.fio() != null)
                        .mapToDouble(o -> ((RunOutcome.Ready) o).fio().longestMs()).sorted().toArray();
                if (longest.length == 0) {
                    continue;
                }
                double[] p99 = e.getValue().stream().filter(o -> o instanceof RunOutcome.Ready r && r.fio() != null)
                        .mapToDouble(o -> ((RunOutcome.Ready) o).fio().p99Ms()).sorted().toArray();
                double worst = e.getValue().stream().filter(o -> o instanceof RunOutcome.Ready r && r.fio() != null)
                        .mapToDouble(o -> ((RunOutcome.Ready) o).fio().worstWindowMiBs()).min().orElse(0);
                if (out.isEmpty()) {
                    out.append(String.format(Locale.ROOT, "%n%-7s %-15s %-20s %5s %14s %12s %22s%n", "guest", "copy-mode", "side",
                            "runs", "longest ms", "p99 ms", "worst 250 ms, MiB/s"));
                }
                out.append(String.format(Locale.ROOT, "%-7s %-15s %-20s %5d %14.1f %12.2f %22.1f%n", row.name(),
                        modeName(row, e.getKey()), e.getKey(), longest.length, longest[longest.length - 1], p99[p99.length / 2],
                        worst));
            }
        }
        if (!out.isEmpty()) {
            out.append("longest = the longest write of all runs; p99 = median over the runs; worst 250 ms = the worst window"
                    + " of all runs; writes in flight between blockdev-mirror and BLOCK_JOB_COMPLETED (" + CP_BESIDE_FIO
                    + ": during the copy)\n");
        }
        return out.toString();
    }

    /** Median time of {@code side} ÷ median time of converged, or why there is none. */
    static String ratio(Row row, String side) {
        List<RunOutcome> ours = row.bySide().get(Side.CONVERGED.label());
        List<RunOutcome> theirs = row.bySide().get(side);
        if (ours == null || theirs == null) {
            return "n/a (" + (ours == null ? Side.CONVERGED.label() : side) + " not run)";
        }
        Summary a = Summary.of(ours);
        Summary b = Summary.of(theirs);
        if (a.ready() == 0 || b.ready() == 0) {
            return "n/a (" + (a.ready() == 0 ? Side.CONVERGED.label() : side) + " never ready)";
        }
        return String.format(Locale.ROOT, "%.2f", b.median() / (double) Math.max(1, a.median()));
    }

    private static String line(Row row, String side, Summary s, List<RunOutcome> outcomes) {
        String prefix = String.format(Locale.ROOT, "%-7s %-15s %-20s %5d ", row.name(), modeName(row, side), side, s.runs());
        if (s.ready() == 0) {
            return prefix + String.format(Locale.ROOT, "%11s %11s %11s %9s  %s%n", "-", "-", "-", "-", "0/" + s.runs()
                    + " (" + why(outcomes) + ")");
        }
        double mbps = row.allocated() / 1e6 / (Math.max(1, s.median()) / 1e9);
        long compared = outcomes.stream().filter(o -> o instanceof RunOutcome.Ready r && r.compared()).count();
        String check = compared == s.ready() ? s.ready() + "/" + s.runs() : "not compared (fio wrote during the copy)";
        return prefix + String.format(Locale.ROOT, "%11.1f %11.1f %11.1f %9.1f  %s%n", s.median() / 1e6, s.min() / 1e6,
                s.max() / 1e6, mbps, check);
    }

    /** Why no run of a side is READY, in a word: the kind of its first outcome. */
    private static String why(List<RunOutcome> outcomes) {
        if (outcomes.isEmpty()) {
            return "not run";
        }
        return switch (outcomes.getFirst()) {
            case RunOutcome.Ready r -> "ready";
            case RunOutcome.NotReady n -> "not ready within " + n.seconds() + " s";
            case RunOutcome.Unavailable u -> "unavailable, see notes";
            case RunOutcome.Failed f -> "FAILED, see notes";
        };
    }

    private static String modeName(Row row, String side) {
        return side.equals(CP) || side.equals(CP_BESIDE_FIO) ? "-" : row.mode().wireName();
    }
}
