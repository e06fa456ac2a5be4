package dev.converge.bench.migration;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.ToLongFunction;
import java.util.stream.Collectors;

/**
 * The run that stands for a row when a benchmark repeats it ({@code --runs N}): single runs move
 * by 2-3x from one to the next on two shared CPUs, so one slow run must not decide a row. Runs are
 * ordered by total time, a run that did not converge after every completed one and a failed or
 * unavailable run last; the lower median of that order stands for the row. Pure.
 */
final class MedianRun {
    private MedianRun() {
    }

    /** The median outcome of {@code runs} (at least one), by the order above. */
    static Outcome of(List<Outcome> runs) {
        if (runs.isEmpty()) {
            throw new IllegalArgumentException("no runs (expected: at least one)");
        }
        List<Outcome> sorted = new ArrayList<>(runs);
        sorted.sort(Comparator.comparingInt(MedianRun::rank).thenComparingLong(MedianRun::totalTime));
        return sorted.get((sorted.size() - 1) / 2);
    }

    /**
     * Each run's total time and downtime in ms ("-" where it did not complete), in the order they
     * ran: the spread behind the median, whose downtime alone would hide a limit missed in another run.
     */
    static String spread(List<Outcome> runs) {
        return String.format(Locale.ROOT, "%d runs, total ms: %s; downtime ms: %s", runs.size(),
                eachRun(runs, MigrationFigures::totalTimeMs), eachRun(runs, MigrationFigures::downtimeMs));
    }

    /** One figure of every run, in the order they ran, "-" for a run that did not complete. */
    private static String eachRun(List<Outcome> runs, ToLongFunction<MigrationFigures> figure) {
        return runs.stream().map(o -> o instanceof Outcome.Completed c ? Long.toString(figure.applyAsLong(c.figures())) : "-")
                .collect(Collectors.joining(", "));
    }

    private static int rank(Outcome o) {
        return switch (o) {
            case Outcome.Completed c -> 0;
            case Outcome.NotConverged n -> 1;
            case Outcome.Unavailable u -> 2;
            case Outcome.Failed f -> 2;
        };
    }

    private static long totalTime(Outcome o) {
        return o instanceof Outcome.Completed c ? c.figures().totalTimeMs() : 0;
    }
}
