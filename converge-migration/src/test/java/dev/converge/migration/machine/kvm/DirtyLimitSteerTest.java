package dev.converge.migration.machine.kvm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The dirty limit on KVM vCPUs steers the throttle from the measured dirty rate. */
class DirtyLimitSteerTest {
    private static final long SECOND = 1_000_000_000L;
    private static final long MIB = 1 << 20;

    @Test
    void aVcpuFourTimesOverTheCapRunsAQuarterOfItsTime() {
        // 1 vCPU, 1024 pages (4 MiB) in a second, cap 1 MiB/s, unthrottled: run 25%, hold 75%
        assertThat(KvmVcpus.nextThrottle(0, 1024, SECOND, 1, MIB)).isEqualTo(75);
        // the same rate over 2 vCPUs is 2 MiB/s each: run 50%
        assertThat(KvmVcpus.nextThrottle(0, 1024, SECOND, 2, MIB)).isEqualTo(50);
    }

    @Test
    void overTheCapAgainTightensUnderItLoosensByTenPoints() {
        // at 50% and still twice the cap: run half as long again
        assertThat(KvmVcpus.nextThrottle(50, 512, SECOND, 1, MIB)).isEqualTo(75);
        // under the cap: 10 points more running time, never below 0
        assertThat(KvmVcpus.nextThrottle(75, 100, SECOND, 1, MIB)).isEqualTo(65);
        assertThat(KvmVcpus.nextThrottle(5, 0, SECOND, 1, MIB)).isZero();
        // far over the cap: at most 99
        assertThat(KvmVcpus.nextThrottle(0, 1_000_000, SECOND, 1, MIB)).isEqualTo(99);
    }
}
