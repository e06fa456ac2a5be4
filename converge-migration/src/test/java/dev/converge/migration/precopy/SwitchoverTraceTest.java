package dev.converge.migration.precopy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SwitchoverTraceTest {
    private static final long MS = 1_000_000;

    @Test
    void itSaysWhereEachStepOfTheDowntimeWent() {
        long t = 1_000 * MS;
        SwitchoverTrace trace = new SwitchoverTrace(40, 30_000_000, 1e9, 6, 31_000_000, 8_828,
                t, t + 18 * MS, t + 20 * MS, t + 20 * MS, t + 21 * MS, t + 23 * MS, t + 26 * MS, t + 30 * MS,
                t + 35 * MS, 0, 0).withDecision(t + 36 * MS, t + 38 * MS);

        assertThat(trace.downtimeMs()).isEqualTo(38.0);
        assertThat(trace.toString()).isEqualTo("expected 40 ms (30000000 bytes at 1000 MB/s + fixed 6 ms); actual 38.0 ms: "
                + "stop 20.0 (31000000 bytes sent meanwhile in 18.0), drain 0.0, send 10.0 (8828 bytes, 1 MB/s: dirty log 1.0, "
                + "pages 2.0, device state 3.0, digest and flush 4.0), ack 5.0, commit 1.0, resume 2.0");
    }

    @Test
    void aSwitchoverWithoutResumedHasNoDowntime() {
        SwitchoverTrace trace = new SwitchoverTrace(40, 0, 1e9, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0);
        assertThat(trace.downtimeMs()).isEqualTo(-1);
        assertThat(trace.toString()).endsWith("resume -1.0");
    }
}
