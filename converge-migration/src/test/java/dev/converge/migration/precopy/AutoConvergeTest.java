package dev.converge.migration.precopy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class AutoConvergeTest {
    private static final long S = AutoConverge.PERIOD_NANOS;
    private static final long MB = 1_000_000;

    /** A migration's clock and stream as seen by the policy, one period at a time. */
    private static final class Periods {
        final AutoConverge a = new AutoConverge();
        final AutoConverge.Params p;
        long clock;
        long sent;

        Periods(AutoConverge.Params p) {
            this.p = p;
            a.start(0, 0);
        }

        /** One period of {@code dirtied} bytes against {@code sentInPeriod} bytes; returns the throttle. */
        int period(long dirtied, long sentInPeriod) {
            a.dirtied(dirtied);
            clock += S;
            sent += sentInPeriod;
            return a.evaluate(clock, sent, p);
        }
    }

    @Test
    void everySecondHighPeriodRaisesTheThrottleByQemusDefaults() {
        Periods t = new Periods(AutoConverge.Params.DEFAULTS);
        // Dirtying 600 MB while sending 1000 MB: above 50 % of what was sent, a high period.
        assertThat(t.period(600 * MB, 1000 * MB)).isZero();
        assertThat(t.period(600 * MB, 1000 * MB)).isEqualTo(20);
        assertThat(t.period(600 * MB, 1000 * MB)).isEqualTo(20);
        assertThat(t.period(600 * MB, 1000 * MB)).isEqualTo(30);
        assertThat(t.a.throttle()).isEqualTo(30);
    }

    @Test
    void aLowPeriodNeitherRaisesNorResetsTheCount() {
        Periods t = new Periods(AutoConverge.Params.DEFAULTS);
        assertThat(t.period(600 * MB, 1000 * MB)).isZero(); // high 1
        assertThat(t.period(500 * MB, 1000 * MB)).isZero(); // exactly 50 %: not above, low
        assertThat(t.period(600 * MB, 1000 * MB)).as("the second high period, though not adjacent")
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
        Periods t = new Periods(new AutoConverge.Params(60, 30, false, 95, 50));
        int[] seen = new int[8];
        for (int i = 0; i < seen.length; i++) {
            seen[i] = t.period(900 * MB, 1000 * MB);
        }
        assertThat(seen).containsExactly(0, 60, 60, 90, 90, 95, 95, 95);
    }

    @Test
    void tailslowStepsOnlyAsFarAsTheDirtyRateNeeds() {
        Periods t = new Periods(new AutoConverge.Params(50, 20, true, 99, 50));
        t.period(600 * MB, 1000 * MB);
        assertThat(t.period(600 * MB, 1000 * MB)).isEqualTo(50);
        t.period(600 * MB, 1000 * MB);
        // The vCPUs have 50 % of the CPU and dirty 600 MB where 500 MB would do: 50 × 500/600 = 41.67 %
        // would be ideal, so the throttle rises by 8 (not the increment of 20).
        assertThat(t.period(600 * MB, 1000 * MB)).isEqualTo(58);
        t.period(5000 * MB, 1000 * MB);
        // Far above the threshold: the step is capped by the increment.
        assertThat(t.period(5000 * MB, 1000 * MB)).isEqualTo(78);
    }

    @Test
    void theThresholdIsAShareOfTheBytesSentInThePeriod() {
        Periods t = new Periods(new AutoConverge.Params(20, 10, false, 99, 100));
        // At 100 % the guest may dirty as much as is sent: two such periods are not high.
        assertThat(t.period(1000 * MB, 1000 * MB)).isZero();
        assertThat(t.period(1000 * MB, 1000 * MB)).isZero();
        // One byte more, twice: high.
        assertThat(t.period(1000 * MB + 1, 1000 * MB)).isZero();
        assertThat(t.period(1000 * MB + 1, 1000 * MB)).isEqualTo(20);
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
