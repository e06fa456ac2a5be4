package dev.converge.bench.migration;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReportTableTest {
    private static Outcome completed(long totalMs, long downtimeMs) {
        return new Outcome.Completed(new MigrationFigures("completed", totalMs, downtimeMs, 1, 2L << 30, 2L << 30, 1000, 3),
                "RAM equal");
    }

    private static ReportTable.Row row(Outcome converge, Outcome qemu) {
        Map<String, Outcome> m = new LinkedHashMap<>();
        if (converge != null) {
            m.put("converge", converge);
        }
        if (qemu != null) {
            m.put("qemu", qemu);
        }
        return new ReportTable.Row(Workload.PATTERN, 300, m);
    }

    @Test
    void ratioIsOursOverQemus() {
        assertThat(ReportTable.ratio(row(completed(500, 10), completed(2000, 20)))).isEqualTo("0.25");
        assertThat(ReportTable.ratio(row(completed(3000, 10), completed(2000, 20)))).isEqualTo("1.50");
    }

    @Test
    void noRatioWithoutTwoCompletions() {
        MigrationFigures active = new MigrationFigures("active", 60000, -1, 1, 9L << 30, 2L << 30, 1000, 40);
        assertThat(ReportTable.ratio(row(completed(500, 10), new Outcome.NotConverged(active, 60))))
                .isEqualTo("converge completed, QEMU did not converge");
        assertThat(ReportTable.ratio(row(new Outcome.Unavailable("x"), completed(2000, 20))))
                .isEqualTo("n/a (converge unavailable, qemu completed)");
        assertThat(ReportTable.ratio(row(null, completed(2000, 20)))).isEqualTo("n/a (converge not run, qemu completed)");
        assertThat(ReportTable.ratio(row(completed(1, 1), new Outcome.Failed("boom")))).isEqualTo("n/a (converge completed, qemu failed)");
    }

    @Test
    void tableShowsFiguresDowntimeVerdictAndNotes() {
        String out = ReportTable.format("header", List.of(row(completed(500, 400), completed(2000, 20))));
        assertThat(out).startsWith("header\n");
        // converge: 500 ms, downtime 400 ms over the 300 ms limit; 2 GiB in 0.5 s = 4295 MB/s.
        assertThat(out).containsPattern("pattern +300 +converge +500 +400 +2048\\.0 +4295\\.0 +3 +NO");
        assertThat(out).containsPattern("pattern +300 +qemu +2000 +20 +2048\\.0 +1073\\.7 +3 +yes");
        assertThat(out).contains("total time converge ÷ qemu: 0.25");
        assertThat(out).contains("pattern 300 ms qemu: completed; RAM equal");
    }

    @Test
    void unavailableSideSaysWhy() {
        String out = ReportTable.format("h", List.of(row(new Outcome.Unavailable("'migrate' not implemented"), completed(2000, 20))));
        assertThat(out).containsPattern("pattern +300 +converge +- +- +- +- +- +unavailable");
        assertThat(out).contains("converge: unavailable: 'migrate' not implemented");
    }
}
