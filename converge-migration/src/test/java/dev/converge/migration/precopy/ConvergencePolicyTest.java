package dev.converge.migration.precopy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class ConvergencePolicyTest {
    private final ConvergencePolicy policy = new ConvergencePolicy(Duration.ofMillis(300));

    @ParameterizedTest
    @CsvSource({
        // remaining, bandwidth B/s, expected ms, converged
        "0, 0, 0, true",
        "0, 1e9, 0, true",
        "4096, 0, 9223372036854775807, false",
        "30000000, 100000000, 300, true",   // exactly at the limit
        "30000001, 100000000, 301, false",  // just above (rounded up)
        "1048576, 1e9, 2, true",
        "1073741824, 1e8, 10738, false",
    })
    void downtimeIsRemainingOverBandwidth(long remaining, double bandwidth, long expectedMs, boolean converged) {
        ConvergencePolicy.Estimate e = policy.evaluate(remaining, bandwidth);
        assertThat(e.expectedDowntimeMs()).isEqualTo(expectedMs);
        assertThat(e.converged()).isEqualTo(converged);
        assertThat(e.remainingBytes()).isEqualTo(remaining);
    }

    @Test
    void zeroLimitConvergesOnlyWithNothingLeft() {
        ConvergencePolicy strict = new ConvergencePolicy(Duration.ZERO);
        assertThat(strict.evaluate(0, 1).converged()).isTrue();
        assertThat(strict.evaluate(1, 1e12).converged()).isFalse();
    }

    @Test
    void badInputIsRefused() {
        assertThatThrownBy(() -> new ConvergencePolicy(Duration.ofMillis(-1))).hasMessageStartingWith("downtime-limit: ");
        assertThatThrownBy(() -> policy.evaluate(-1, 1)).hasMessage("remaining bytes: -1 (expected: >= 0)");
        assertThat(policy.evaluate(4096, Double.NaN).converged()).isFalse();
    }

    @ParameterizedTest
    @CsvSource({
        // remaining, bandwidth B/s, fixed cost us, expected ms, converged (limit 300 ms)
        "0, 0, 0, 0, true",
        "0, 1e9, 250, 1, true",             // nothing left: only the fixed cost, rounded up
        "0, 1e9, 301000, 301, false",       // the fixed cost alone is over the limit
        "29000000, 100000000, 10000, 300, true",   // 290 + 10 ms: exactly at the limit
        "29000000, 100000000, 10001, 301, false",  // 290 + 10.001 ms: just above
        "4096, 0, 1000, 9223372036854775807, false", // bandwidth unknown stays unknown
    })
    void theMeasuredFixedSwitchoverCostIsAddedToTheEstimate(long remaining, double bandwidth, long fixedMicros,
            long expectedMs, boolean converged) {
        ConvergencePolicy.Estimate e = policy.evaluate(remaining, bandwidth, Duration.ofNanos(fixedMicros * 1000));
        assertThat(e.expectedDowntimeMs()).isEqualTo(expectedMs);
        assertThat(e.converged()).isEqualTo(converged);
    }

    @Test
    void aZeroLimitNeverConvergesOnceAFixedCostIsMeasured() {
        ConvergencePolicy strict = new ConvergencePolicy(Duration.ZERO);
        assertThat(strict.evaluate(0, 1e9, Duration.ZERO).converged()).isTrue();
        assertThat(strict.evaluate(0, 1e9, Duration.ofNanos(1)).converged()).isFalse();
    }

    @Test
    void negativeFixedCostIsRefused() {
        assertThatThrownBy(() -> policy.evaluate(0, 1, Duration.ofNanos(-1)))
                .hasMessage("fixed switchover cost: PT-0.000000001S (expected: >= 0)");
    }

    @ParameterizedTest
    @CsvSource({
        // remaining, bandwidth B/s, stop us, fixed us, expected ms, converged (limit 300 ms)
        "10000000, 100000000, 30000, 20000, 120, true",    // send 100 ms hides a 30 ms stop: 100 + 20
        "1000000, 100000000, 30000, 20000, 50, true",      // send 10 ms < stop 30 ms: the stop counts, 30 + 20
        "0, 100000000, 30000, 20000, 50, true",            // nothing dirty: the stop still counts (the downtime starts at the request)
        "28000000, 100000000, 290000, 20000, 310, false",  // stop 290 ms + 20: over the limit though the send fits
        "28000000, 100000000, 279001, 20000, 300, true",   // 280 ms send (the larger) + 20
        "4096, 0, 30000, 0, 9223372036854775807, false",   // bandwidth unknown stays unknown
    })
    void theStopOverlapsTheSendAndTheFixedCostAddsToBoth(long remaining, double bandwidth, long stopMicros,
            long fixedMicros, long expectedMs, boolean converged) {
        ConvergencePolicy.Estimate e = policy.evaluate(remaining, bandwidth, Duration.ofNanos(stopMicros * 1000),
                Duration.ofNanos(fixedMicros * 1000));
        assertThat(e.expectedDowntimeMs()).isEqualTo(expectedMs);
        assertThat(e.converged()).isEqualTo(converged);
    }

    @Test
    void negativeStopCostIsRefused() {
        assertThatThrownBy(() -> policy.evaluate(0, 1, Duration.ofNanos(-1), Duration.ZERO))
                .hasMessage("stop cost: PT-0.000000001S (expected: >= 0)");
    }
}
