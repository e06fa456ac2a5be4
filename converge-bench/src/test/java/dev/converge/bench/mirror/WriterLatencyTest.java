package dev.converge.bench.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class WriterLatencyTest {
    static final long KIB64 = 64 << 10;

    @Test
    void longestP99AndTheWorstWindowOfAStall() {
        List<WriterLatency.Sample> s = new ArrayList<>();
        // 800 writes/s (50 MiB/s of 64 KiB) for 2 s from t=0, except a 500 ms stall ending at t=1000
        for (long t = 0; t < 2000; t++) {
            if (t % 5 != 0 && t % 5 != 2 && t % 5 != 4) {
                continue; // 3 writes per 5 ms = 600/s
            }
            if (t > 500 && t < 1000) {
                continue;
            }
            s.add(new WriterLatency.Sample(t, t == 1000 ? 500_000_000L : 100_000L, KIB64, t * KIB64));
        }
        WriterLatency.Stats st = WriterLatency.of(s, 0, 2000);
        assertThat(st.longestMs()).isEqualTo(500.0);
        assertThat(st.p99Ms()).isEqualTo(0.1);
        assertThat(st.worstWindowMiBs()).as("a window inside the stall").isZero();
        assertThat(st.longestAtMs()).as("the stalled write was submitted at t=500").isEqualTo(500);
        assertThat(st.worstWindowAtMs()).as("the first window inside the stall").isBetween(501L, 750L);
        WriterLatency.Stats quiet = WriterLatency.of(s, 1100, 2000);
        assertThat(quiet.longestMs()).isEqualTo(0.1);
        assertThat(quiet.worstWindowMiBs()).isCloseTo(600 * 64 / 1024.0, within(1.0));
    }

    @Test
    void writesInFlightAtTheIntervalsEdgesCount() {
        List<WriterLatency.Sample> s = List.of(new WriterLatency.Sample(1200, 300_000_000L, KIB64, 0),
                new WriterLatency.Sample(900, 1_000_000L, KIB64, 0), new WriterLatency.Sample(5000, 1_000_000L, KIB64, 0));
        assertThat(WriterLatency.of(s, 1000, 2000).writes()).isEqualTo(1);
        assertThat(WriterLatency.of(s, 1000, 2000).longestMs()).isEqualTo(300.0);
        assertThat(WriterLatency.of(s, 1000, 2000).longestAtMs()).as("submitted before the interval").isEqualTo(-100);
    }

    @Test
    void parsesFiosLogAndRefusesWhatIsNot() {
        List<WriterLatency.Sample> s = WriterLatency.parseFioLog(List.of("1796223119843, 1280299, 1, 65536, 1048576", "",
                "1796223119844, 255631, 1, 65536, 0, 0"));
        assertThat(s).containsExactly(new WriterLatency.Sample(1796223119843L, 1280299, 65536, 1048576),
                new WriterLatency.Sample(1796223119844L, 255631, 65536, 0));
        assertThat(WriterLatency.writtenSince(s, 1796223119844L)).singleElement()
                .satisfies(r -> assertThat(r).containsExactly(0, 65536));
        assertThatThrownBy(() -> WriterLatency.parseFioLog(List.of("1, 2, 3"))).hasMessageContaining("'1, 2, 3'");
        assertThatThrownBy(() -> WriterLatency.parseFioLog(List.of("1, x, 1, 4096, 0"))).hasMessageContaining("'1, x");
    }
}
