package dev.converge.bench.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Report formatting from synthetic outcomes: medians, MB/s, ratios, and the rows without figures. */
class MirrorReportTest {
    private static final long GIB = 1L << 30;

    private static RunOutcome ready(long ms) {
        return new RunOutcome.Ready(ms * 1_000_000, null);
    }

    private static MirrorReport.Row row(String name, CopyMode mode, long allocated, Object... sideAndRuns) {
        Map<String, List<RunOutcome>> m = new LinkedHashMap<>();
        for (int i = 0; i < sideAndRuns.length; i += 2) {
            @SuppressWarnings("unchecked")
            List<RunOutcome> runs = (List<RunOutcome>) sideAndRuns[i + 1];
            m.put((String) sideAndRuns[i], runs);
        }
        return new MirrorReport.Row(name, mode, allocated, m);
    }

    @Test
    void medianMinMaxAndMbPerSecond() {
        String out = MirrorReport.format("HEADER", List.of(row("full", CopyMode.BACKGROUND, 4 * GIB,
                "converged", List.of(ready(3000), ready(2000), ready(4000)),
                "qemu-storage-daemon", List.of(ready(5000), ready(4000), ready(6000)))));
        assertThat(out).startsWith("HEADER\n");
        // 4 GiB in 3.000 s = 1431.7 MB/s; 4 GiB in 5.000 s = 859.0 MB/s
        assertThat(out).containsPattern("full +background +converged +3 +3000\\.0 +2000\\.0 +4000\\.0 +1431\\.7  3/3");
        assertThat(out).containsPattern("full +background +qemu-storage-daemon +3 +5000\\.0 +4000\\.0 +6000\\.0 +859\\.0  3/3");
        assertThat(out).contains("ratio qemu-storage-daemon ÷ converged: 1.67");
    }

    @Test
    void cpIsComparedWithConverged() {
        String out = MirrorReport.format("", List.of(row("sparse", CopyMode.BACKGROUND, 400 * (1L << 20),
                "converged", List.of(ready(200)), "qemu-storage-daemon", List.of(ready(100)),
                MirrorReport.CP, List.of(ready(300)))));
        assertThat(out).contains("ratio qemu-storage-daemon ÷ converged: 0.50; cp ÷ converged: 1.50");
        assertThat(out).containsPattern("sparse +- +cp --sparse=always +1 +300\\.0");
    }

    @Test
    void rowsWithoutFiguresSayWhyAndTheRatioToo() {
        String out = MirrorReport.format("", List.of(
                row("writer", CopyMode.BACKGROUND, GIB, "converged", List.of(new RunOutcome.NotReady(120, null)),
                        "qemu-storage-daemon", List.of(ready(900))),
                row("full", CopyMode.BACKGROUND, GIB, "converged",
                        List.of(new RunOutcome.Unavailable("blockdev-mirror: CommandNotFound")),
                        "qemu-storage-daemon", List.of(new RunOutcome.Failed("target differs from source at byte 7")))));
        assertThat(out).containsPattern("writer +background +converged +1 +- +- +- +-  0/1 \\(not ready within 120 s\\)");
        assertThat(out).contains("writer  background      ratio qemu-storage-daemon ÷ converged: n/a (converged never ready)");
        assertThat(out).containsPattern("full +background +converged +1 .*0/1 \\(unavailable, see notes\\)");
        assertThat(out).containsPattern("full +background +qemu-storage-daemon +1 .*0/1 \\(FAILED, see notes\\)");
        assertThat(out).contains("full background converged run 1: unavailable: blockdev-mirror: CommandNotFound");
        assertThat(out).contains("full background qemu-storage-daemon run 1: FAILED: target differs from source at byte 7");
        assertThat(out).contains("writer background converged run 1: not ready within 120 s; cancelled");
    }

    @Test
    void aFailedRunIsNotCountedInTheMedian() {
        String out = MirrorReport.format("", List.of(row("full", CopyMode.BACKGROUND, GIB,
                "converged", List.of(ready(1000), new RunOutcome.Failed("x"), ready(3000)))));
        assertThat(out).containsPattern("converged +3 +3000\\.0 +1000\\.0 +3000\\.0 .* 2/3");
        assertThat(out).contains("ratio qemu-storage-daemon ÷ converged: n/a (qemu-storage-daemon not run)");
    }

    @Test
    void writerFiguresAreNoted() {
        String out = MirrorReport.format("", List.of(row("writer", CopyMode.WRITE_BLOCKING, GIB,
                "converged", List.of(new RunOutcome.Ready(2_000_000_000L, new PacedWriter.Figures(1600, 1600L * 65536,
                        2_000_000_000L))))));
        assertThat(out).contains("writer write-blocking converged run 1: ready in 2000.0 ms, target == source;"
                + " writer 1600 × 64 KiB at 50.0 MiB/s");
    }

    @Test
    void theCpBesideFioFloorIsShownWithoutModeNorCheckAndInTheGuestTable() {
        WriterLatency.Stats floor = new WriterLatency.Stats(4000, 126.7, 1.2, 22.0, 300, 800);
        WriterLatency.Stats mirror = new WriterLatency.Stats(4000, 80.0, 4.5, 30.5, 100, 200);
        String out = MirrorReport.format("", List.of(row("fio", CopyMode.BACKGROUND, 2 * GIB,
                "converged", List.of(new RunOutcome.Ready(5_000_000_000L, null, mirror)),
                MirrorReport.CP_BESIDE_FIO, List.of(new RunOutcome.Ready(1_500_000_000L, null, floor, false)))));
        assertThat(out).containsPattern("fio +- +cp beside \\(floor\\) +1 +1500\\.0 .* not compared \\(fio wrote during the copy\\)");
        assertThat(out).containsPattern("fio +background +converged +1 +5000\\.0 .* 1/1");
        assertThat(out).containsPattern("fio +- +cp beside \\(floor\\) +1 +126\\.7 +1\\.20 +22\\.0");
        assertThat(new RunOutcome.Ready(1_500_000_000L, null, floor, false).summary())
                .startsWith("copied in 1500.0 ms (not compared); fio during the copy: 4000 writes");
    }
}
