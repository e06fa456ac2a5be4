package dev.converge.migration.postcopy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BlocktimeTest {
    private static final long MS = 1_000_000;

    @Test
    void theGuestIsBlockedOnlyWhileEveryVcpuWaitsAndEachVcpuCountsItsOwnWaits() {
        Blocktime b = new Blocktime(2);
        b.begin(0, 0);
        b.begin(1, 10 * MS);      // from here both wait
        b.end(1, 10 * MS, 14 * MS); // 4 ms of the guest blocked
        b.begin(1, 20 * MS);      // both again
        b.end(0, 0, 30 * MS);     // 10 ms more
        b.end(1, 20 * MS, 40 * MS);
        b.begin(-1, 0);
        b.end(-1, 0, 6 * MS);     // a QMP thread's wait

        Blocktime.Stats s = b.stats();
        assertThat(s.allBlockedMs()).isEqualTo(14);
        assertThat(s.vcpuBlockedMs()).containsExactly(30, 24);
        assertThat(s.vcpuLatencyNs()).containsExactly(30 * MS, 12 * MS);
        assertThat(s.nonVcpuLatencyNs()).isEqualTo(6 * MS);
    }
}
