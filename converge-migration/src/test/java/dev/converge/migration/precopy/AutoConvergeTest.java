package dev.converge.migration.precopy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class AutoConvergeTest {
    private static final long S = AutoConverge.PERIOD_NANOS;
    private static final long MB = 1_000_000;

    /** Feeds one period of {@code dirtied} bytes against {@code sent} bytes and returns the throttle. */
    private static int period(AutoConverge a, long[] clock, long[] sent, long dirtied, long sentInPeriod,
            AutoConverge.Params p) {
        a.dirtied(dirtied);
        clock[0] += S;
        sent[0] += sentInPeriod;
        return a.evaluate(clock[0], sent[0], p);
    }

    @Test
    void everySecondHighPeriodRaisesTheThrottleByQemusDefaults() {
        AutoConverge a = new AutoConverge();
        long[] clock = {0};
        long[] sent = {0};
        a.start(0, 0);
        AutoConverge.Params p = AutoConverge.Params.DEFAULTS;
        // Dirtying 600 MB while sending 1000 MB: above 50 % of what was sent, a high period.
        assertThat(period(a, clock, sent, 600 * MB, 1000 * MB, p)).isZero();
        assertThat(period(a, clock, sent, 600 * MB, 1000 * MB, p)).isEqualTo(20);
        assertThat(period(a, clock, sent, 600 * MB, 1000 * MB, p)).isEqualTo(20);
        assertThat(period(a, clock, sent, 600 * MB, 1000 * MB, p)).isEqualTo(30);
        assertThat(a.throttle()).isEqualTo(30);
    }

    @Test
    void aLowPeriodNeitherRaisesNorResetsTheCount() {
        AutoConverge a = new AutoConverge();
        long[] clock = {0};
        long[] sent = {0};
        a.start(0, 0);
        AutoConverge.Params p = AutoConverge.Params.DEFAULTS;
        assertThat(period(a, clock, sent, 600 * MB, 1000 * MB, p)).isZero(); // high 1
        assertThat(period(a, clock, sent, 500 * MB, 1000 * MB, p)).isZero(); // exactly 50 %: not above, low
        assertThat(period(a, clock, sent, 600 * MB, 1000 * MB, p)).as("the second high period, though not adjacent")
                .isEqualTo(20);
    }

    @Test
    void nothingIsJudgedBeforeAPeriodHasLastedASecond() {
        AutoConverge a = new AutoConverge();
        a.start(0, 0);
        AutoConverge.Params p = AutoConverge.Params.DEFAULTS;
        a.dirtied(900 * MB);
        assertThat(a.evaluate(S - 1, 1000 * MB, p)).isZero();
        assertThat(a.evaluate(S - 1, 1000 * MB, p)).isZero();
        // The same numbers, now over one full period, count once (high 1 of 2).
        assertThat(a.evaluate(S, 1000 * MB, p)).isZero();
        a.dirtied(900 * MB);
        assertThat(a.evaluate(2 * S, 2000 * MB, p)).isEqualTo(20);
    }

    @Test
    void neverAboveMaxCpuThrottle() {
        AutoConverge a = new AutoConverge();
        long[] clock = {0};
        long[] sent = {0};
        a.start(0, 0);
        AutoConverge.Params p = new AutoConverge.Params(60, 30, false, 95, 50);
        int[] seen = new int[8];
        for (int i = 0; i < seen.length; i++) {
            seen[i] = period(a, clock, sent, 900 * MB, 1000 * MB, p);
        }
        assertThat(seen).containsExactly(0, 60, 60, 90, 90, 95, 95, 95);
    }

    @Test
    void tailslowStepsOnlyAsFarAsTheDirtyRateNeeds() {
        AutoConverge a = new AutoConverge();
        long[] clock = {0};
        long[] sent = {0};
        a.start(0, 0);
        AutoConverge.Params p = new AutoConverge.Params(50, 20, true, 99, 50);
        period(a, clock, sent, 600 * MB, 1000 * MB, p);
        assertThat(period(a, clock, sent, 600 * MB, 1000 * MB, p)).isEqualTo(50);
        period(a, clock, sent, 600 * MB, 1000 * MB, p);
        // The vCPUs have 50 % of the CPU and dirty 600 MB where 500 MB would do: 50 × 500/600 = 41.67 %
        // would be ideal, so the throttle rises by 8 (not the increment of 20).
        assertThat(period(a, clock, sent, 600 * MB, 1000 * MB, p)).isEqualTo(58);
        period(a, clock, sent, 5000 * MB, 1000 * MB, p);
        // Far above the threshold: the step is capped by the increment.
        assertThat(period(a, clock, sent, 5000 * MB, 1000 * MB, p)).isEqualTo(78);
    }

    @Test
    void theThresholdIsAShareOfTheBytesSentInThePeriod() {
        AutoConverge a = new AutoConverge();
        long[] clock = {0};
        long[] sent = {0};
        a.start(0, 0);
        AutoConverge.Params p = new AutoConverge.Params(20, 10, false, 99, 100);
        // At 100 % the guest may dirty as much as is sent: two such periods are not high.
        assertThat(period(a, clock, sent, 1000 * MB, 1000 * MB, p)).isZero();
        assertThat(period(a, clock, sent, 1000 * MB, 1000 * MB, p)).isZero();
        // One byte more, twice: high.
        assertThat(period(a, clock, sent, 1000 * MB + 1, 1000 * MB, p)).isZero();
        assertThat(period(a, clock, sent, 1000 * MB + 1, 1000 * MB, p)).isEqualTo(20);
    }

    @Test
    void theDirtyLimitTriggerIsTheSecondHighPeriodWithoutAThrottle() {
        AutoConverge a = new AutoConverge();
        a.start(0, 0);
        a.dirtied(600 * MB);
        assertThat(a.triggered(S, 1000 * MB, 50)).isFalse();
        a.dirtied(600 * MB);
        assertThat(a.triggered(S + S / 2, 2000 * MB, 50)).as("the period has not lasted a second").isFalse();
        assertThat(a.triggered(2 * S, 2000 * MB, 50)).isTrue();
        assertThat(a.throttle()).isZero();
        assertThat(a.triggered(3 * S, 3000 * MB, 50)).as("nothing dirtied: a low period").isFalse();
        assertThatThrownBy(() -> a.triggered(4 * S, 4000 * MB, 0)).hasMessageContaining("throttle-trigger-threshold: 0");
    }

    @Test
    void parametersOutsideQemusRangesAreRefusedByName() {
        assertThatThrownBy(() -> new AutoConverge.Params(0, 10, false, 99, 50)).hasMessageContaining("cpu-throttle-initial: 0");
        assertThatThrownBy(() -> new AutoConverge.Params(20, 100, false, 99, 50)).hasMessageContaining("cpu-throttle-increment: 100");
        assertThatThrownBy(() -> new AutoConverge.Params(20, 10, false, 100, 50)).hasMessageContaining("max-cpu-throttle: 100");
        assertThatThrownBy(() -> new AutoConverge.Params(20, 10, false, 99, 101)).hasMessageContaining("throttle-trigger-threshold: 101");
        assertThatThrownBy(() -> new AutoConverge().dirtied(-1)).isInstanceOf(IllegalArgumentException.class);
    }
}
