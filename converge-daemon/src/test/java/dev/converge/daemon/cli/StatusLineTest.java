package dev.converge.daemon.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** The line of `converge job wait` as a pure function of the job and the width. */
class StatusLineTest {
    private static final JobView MIRROR = JobView.basic("mirror0", "mirror", "running", 512L << 20, 1L << 30)
            .withRate(250e6, 3);
    private static final JobView MIGRATION = JobView.basic("mig0", "migration", "running", 600L << 20, 1L << 30)
            .withRate(850e6, 2).withMigration(3, 120_000_000, 180, 300, 20);

    @Test
    void everyWidthGetsALineThatFitsIt() {
        for (JobView v : new JobView[] {MIRROR, MIGRATION, ready(MIRROR)}) {
            for (int width = 1; width <= 220; width++) {
                String line = StatusLine.render(v, width);
                assertThat(line.length()).as("width %d: %s", width, line).isLessThanOrEqualTo(width).isPositive();
                assertThat(line).doesNotContain("\n").doesNotContain("\r");
            }
        }
    }

    @Test
    void aWideLineShowsEverything() {
        String line = StatusLine.render(MIGRATION, StatusLine.UNLIMITED);
        assertThat(line).startsWith("mig0 [" + "#".repeat(17) + "-".repeat(13) + "]  58%")
                .contains("600 MiB / 1.0 GiB", "850.0 MB/s", "ETA 0:02", "pass 3", "dirty 120.0 MB/s",
                        "downtime 180/300 ms", "throttle 20%")
                .endsWith("running");
    }

    @Test
    void aNarrowLineKeepsTheIdPercentageAndStatusLast() {
        assertThat(StatusLine.render(MIGRATION, 24)).isEqualTo("mig0  58% running");
        String mid = StatusLine.render(MIGRATION, 80);
        assertThat(mid).startsWith("mig0 [").contains("58%", "850.0 MB/s", "ETA 0:02", "downtime 180/300 ms")
                .endsWith("running");
        // The bar shrinks before the rate goes.
        assertThat(StatusLine.render(MIRROR, 60)).contains("[").contains("250.0 MB/s");
    }

    @Test
    void readySaysWhatComesNext() {
        String line = StatusLine.render(ready(MIRROR), 100);
        assertThat(line).contains("ready (next: converge job complete mirror0)").doesNotContain("ETA");
        // Too narrow for the hint: the status stays.
        assertThat(StatusLine.render(ready(MIRROR), 20)).endsWith("ready");
    }

    @Test
    void ratesNeedTwoSamplesAWhileApart() {
        RateMeter m = new RateMeter(3_000_000_000L);
        assertThat(m.perSecond()).isNaN();
        m.add(0, 0);
        m.add(50_000_000L, 1000);
        assertThat(m.perSecond()).isNaN();
        m.add(1_000_000_000L, 100_000_000);
        assertThat(m.perSecond()).isEqualTo(100e6);
        // Old samples leave the window: the rate follows the last seconds.
        m.add(5_000_000_000L, 100_000_000);
        m.add(6_000_000_000L, 100_000_000);
        assertThat(m.perSecond()).isZero();
    }

    @Test
    void unitsForRatesAndDurations() {
        assertThat(Units.rate(1.5e9)).isEqualTo("1.50 GB/s");
        assertThat(Units.rate(2e5)).isEqualTo("200.0 kB/s");
        assertThat(Units.duration(65)).isEqualTo("1:05");
        assertThat(Units.duration(3725)).isEqualTo("1:02:05");
    }

    @Test
    void eventsReadAsOneLineWithTheirOwnTimestamp() {
        ObjectNode e = new ObjectMapper().createObjectNode().put("event", "JOB_STATUS_CHANGE");
        e.putObject("data").put("id", "m0").put("status", "ready").putObject("x").put("n", 1);
        e.putObject("timestamp").put("seconds", 3600).put("microseconds", 1500);
        assertThat(EventFormat.line(e, ZoneOffset.UTC))
                .isEqualTo("01:00:00.001500 JOB_STATUS_CHANGE id=m0 status=ready x.n=1");
    }

    private static JobView ready(JobView v) {
        return new JobView(v.id(), v.type(), "ready", v.total(), v.total(), v.bytesPerSecond(), 0, v.pass(),
                v.dirtyRate(), v.expectedDowntimeMs(), v.downtimeLimitMs(), v.throttlePercent());
    }
}
