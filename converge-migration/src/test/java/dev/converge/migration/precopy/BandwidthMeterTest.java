package dev.converge.migration.precopy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class BandwidthMeterTest {
    private static final long MB = 1_000_000;
    private static final long SECOND = 1_000_000_000L;

    @Test
    void unknownBeforeAnyPass() {
        BandwidthMeter m = new BandwidthMeter();
        assertThat(m.latest()).isZero();
        assertThat(m.conservative()).isZero();
        assertThat(m.forSwitchover()).isZero();
    }

    @Test
    void judgesByTheSlowestOfTheLastThreePasses() {
        BandwidthMeter m = new BandwidthMeter();
        m.record(1000 * MB, SECOND);
        m.record(2000 * MB, SECOND);
        m.record(3000 * MB, SECOND);
        assertThat(m.conservative()).isEqualTo(1000.0 * MB);
        assertThat(m.latest()).isEqualTo(3000.0 * MB);
        m.record(2500 * MB, SECOND); // the 1000 MB/s pass falls out of the window
        assertThat(m.conservative()).isEqualTo(2000.0 * MB);
        assertThat(m.forSwitchover()).as("headroom for the stopped window's slower burst").isEqualTo(1600.0 * MB);
    }

    @Test
    void aShortPassCountsOnlyWhileNothingBetterIsKnown() {
        BandwidthMeter m = new BandwidthMeter();
        m.record(4096, 1000); // 4.096 GB/s measured over one page: a guess, but better than nothing
        assertThat(m.conservative()).isEqualTo(4096 * 1e9 / 1000);
        m.record(500 * MB, SECOND);
        m.record(4096, 10); // one page in 10 ns says nothing about the stream
        assertThat(m.conservative()).isEqualTo(500.0 * MB);
        assertThat(m.latest()).isEqualTo(500.0 * MB);
    }

    @Test
    void refusesImpossibleSamples() {
        BandwidthMeter m = new BandwidthMeter();
        assertThatThrownBy(() -> m.record(-1, SECOND)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1 bytes");
        assertThatThrownBy(() -> m.record(1, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0 ns");
    }

    @Test
    void smallPassesAddUpToWindowsOfAtLeast100Ms() {
        BandwidthMeter m = new BandwidthMeter();
        long ms = 1_000_000;
        // Passes of 8 MB in 25 ms (320 MB/s), one of them stalled to 50 ms (160 MB/s) by a preemption.
        m.record(8 * MB, 25 * ms);
        m.record(8 * MB, 50 * ms);
        assertThat(m.latest()).isEqualTo(160.0 * MB);
        assertThat(m.conservative()).as("the window being filled, before any full one").isEqualTo(16 * MB * 1e9 / (75 * ms));
        m.record(8 * MB, 25 * ms); // 100 ms: the window closes at 24 MB / 100 ms
        assertThat(m.conservative()).isEqualTo(240.0 * MB);
        for (int i = 0; i < 8; i++) {
            m.record(8 * MB, 25 * ms); // two windows of 4 passes at 320 MB/s
        }
        assertThat(m.conservative()).as("the slowest of the last three windows, not the stalled pass").isEqualTo(240.0 * MB);
        for (int i = 0; i < 4; i++) {
            m.record(8 * MB, 25 * ms);
        }
        assertThat(m.conservative()).isEqualTo(320.0 * MB);
        assertThat(m.forSwitchover()).isEqualTo(320.0 * MB * BandwidthMeter.SWITCHOVER_SHARE);
    }

    @Test
    void theFirstPassStandsOnlyUntilALaterWindowIsKnown() {
        long ms = 1_000_000;
        BandwidthMeter m = new BandwidthMeter();
        m.record(500 * MB, 2000 * ms); // the first pass: 250 MB/s (the destination zeroes fresh pages)
        m.firstPassOver();
        assertThat(m.conservative()).as("nothing later known yet").isEqualTo(250.0 * MB);
        m.record(60 * MB, 50 * ms); // half a window
        assertThat(m.conservative()).isEqualTo(250.0 * MB);
        m.record(60 * MB, 50 * ms); // the window closes at 1200 MB/s and replaces the first pass
        assertThat(m.conservative()).isEqualTo(1200.0 * MB);
        m.record(50 * MB, 100 * ms);
        assertThat(m.conservative()).as("later windows are kept as before").isEqualTo(500.0 * MB);
    }

    @Test
    void aShortFirstPassStillCountsUntilALaterWindow() {
        long ms = 1_000_000;
        BandwidthMeter m = new BandwidthMeter();
        m.record(30 * MB, 60 * ms); // below a window
        m.firstPassOver();
        assertThat(m.conservative()).isEqualTo(500.0 * MB);
        m.record(100 * MB, 100 * ms);
        assertThat(m.conservative()).isEqualTo(1000.0 * MB);
    }
}
