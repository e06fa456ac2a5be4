package dev.converge.bench.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class MedianRunTest {
    private static Outcome completed(long totalMs) {
        return completed(totalMs, 10);
    }

    private static Outcome completed(long totalMs, long downtimeMs) {
        return new Outcome.Completed(new MigrationFigures("completed", totalMs, downtimeMs, 1, 1L << 30, 1L << 30, 1000, 3),
                "RAM equal");
    }

    private static final Outcome NOT_CONVERGED = new Outcome.NotConverged(
            new MigrationFigures("active", 60000, -1, 1, 9L << 30, 1L << 30, 1000, 40), 60);

    @Test
    void theMiddleTotalTimeStandsForTheRow() {
        Outcome middle = completed(3000);
        assertThat(MedianRun.of(List.of(completed(9000), middle, completed(2000)))).isSameAs(middle);
        assertThat(MedianRun.of(List.of(completed(4000), completed(2000)))).isEqualTo(completed(2000));
    }

    @Test
    void aRunThatDidNotConvergeCountsAsSlowerThanAnyThatCompleted() {
        assertThat(MedianRun.of(List.of(NOT_CONVERGED, completed(5000), completed(7000)))).isEqualTo(completed(7000));
        assertThat(MedianRun.of(List.of(NOT_CONVERGED, new Outcome.Failed("x"), completed(7000)))).isSameAs(NOT_CONVERGED);
    }

    @Test
    void theSpreadListsEveryRunInOrder() {
        assertThat(MedianRun.spread(List.of(completed(3100, 41), NOT_CONVERGED, completed(2900, 57))))
                .isEqualTo("3 runs, total ms: 3100, -, 2900; downtime ms: 41, -, 57");
    }

    @Test
    void noRunsIsAnError() {
        assertThatThrownBy(() -> MedianRun.of(List.of())).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no runs");
    }
}
