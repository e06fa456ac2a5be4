package dev.converge.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class StderrLoggerTest {

    @ParameterizedTest
    @CsvSource({
        "2026-12-03T06:34:21.123Z, UTC, 2026-12-03T06:34:21.123Z",
        "2026-12-03T06:34:21.007Z, Europe/Paris, 2026-12-03T07:34:21.007+01:00",
        "2026-07-01T23:59:59.999Z, America/St_Johns, 2026-07-01T21:29:59.999-02:30",
        "0999-01-02T03:04:05Z, UTC, 0999-01-02T03:04:05.000Z",
    })
    void timestampIsIsoWithTheZonesOffset(String instant, String zone, String expected) {
        StringBuilder out = new StringBuilder();
        StderrLogger.timestamp(out, Instant.parse(instant), ZoneId.of(zone));
        assertThat(out).hasToString(expected);
    }

    /** The same text as the pattern slf4j-simple was configured with (yyyy-MM-dd'T'HH:mm:ss.SSSXXX). */
    @Test
    void timestampMatchesTheFormerPattern() {
        Instant at = Instant.parse("2026-03-29T01:30:00.042Z");
        for (String zone : new String[] {"UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York"}) {
            StringBuilder out = new StringBuilder();
            StderrLogger.timestamp(out, at, ZoneId.of(zone));
            assertThat(out).hasToString(DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
                    .format(ZonedDateTime.ofInstant(at, ZoneId.of(zone))));
        }
    }

    @Test
    void levelsBelowTheThresholdAreOff() {
        StderrLogger warn = new StderrLogger("dev.converge.x.Thing", StderrLogger.Level.WARN);
        assertThat(warn.isErrorEnabled()).isTrue();
        assertThat(warn.isWarnEnabled()).isTrue();
        assertThat(warn.isInfoEnabled()).isFalse();
        assertThat(warn.isDebugEnabled()).isFalse();
        StderrLogger trace = new StderrLogger("Thing", StderrLogger.Level.TRACE);
        assertThat(trace.isTraceEnabled()).isTrue();
        assertThat(trace.getName()).isEqualTo("Thing");
    }
}
