package dev.converge.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** QEMU ratelimit.h semantics with a synthetic clock. */
class RateLimitTest {
    private static final long MS = 1_000_000L;

    @Test
    void unlimitedNeverDelays() {
        RateLimit r = new RateLimit();
        assertThat(r.isLimited()).isFalse();
        assertThat(r.calculateDelay(1L << 40, 0)).isZero();
    }

    @Test
    void withinQuotaNoDelay() {
        RateLimit r = new RateLimit();
        r.setSpeed(1000); // 100 bytes per 100 ms slice
        assertThat(r.calculateDelay(99, 5 * MS)).isZero();
    }

    @Test
    void exceedingQuotaWaitsForTheExtendedSlice() {
        RateLimit r = new RateLimit();
        r.setSpeed(1000); // quota 100 per slice
        long t0 = 7 * MS;
        // 300 bytes = 3 slices' worth: the slice is extended to t0 + 300 ms.
        assertThat(r.calculateDelay(300, t0)).isEqualTo(300 * MS);
        // Asking again 100 ms later: 200 ms left.
        assertThat(r.calculateDelay(0, t0 + 100 * MS)).isEqualTo(200 * MS);
        // After the extended slice, a new one starts and accounting restarts.
        assertThat(r.calculateDelay(50, t0 + 301 * MS)).isZero();
    }

    @Test
    void averageRateHoldsOverManyChunks() {
        RateLimit r = new RateLimit();
        r.setSpeed(1_000_000); // 1 MB/s
        long now = 0;
        long bytes = 0;
        for (int i = 0; i < 1000; i++) {
            now += r.calculateDelay(64 * 1024, now);
            bytes += 64 * 1024;
        }
        double seconds = now / 1e9;
        assertThat(bytes / seconds).isBetween(0.9e6, 1.1e6);
    }

    @Test
    void tinySpeedStillHasAQuotaOfOne() {
        RateLimit r = new RateLimit();
        r.setSpeed(1); // 0.1 byte per slice → quota 1
        assertThat(r.calculateDelay(2, 0)).isEqualTo(2 * RateLimit.SLICE_NANOS);
    }

    @Test
    void rejectsNegatives() {
        RateLimit r = new RateLimit();
        assertThatThrownBy(() -> r.setSpeed(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bytesPerSecond: -1");
        assertThatThrownBy(() -> r.calculateDelay(-1, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void worksAcrossNegativeNanoTimes() {
        RateLimit r = new RateLimit();
        r.setSpeed(1000);
        long t0 = Long.MIN_VALUE / 2;
        assertThat(r.calculateDelay(200, t0)).isEqualTo(200 * MS);
        assertThat(r.calculateDelay(0, t0 + 50 * MS)).isEqualTo(150 * MS);
    }
}
