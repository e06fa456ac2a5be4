package dev.converge.migration.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class MigrationSettingsTest {
    private static MigrationSettings.Update throttle(Long initial, Long max) {
        return new MigrationSettings.Update(null, null, null, initial, null, null, max, null, null, null);
    }

    @Test
    void maxCpuThrottleIsCheckedAgainstTheInitialThrottleItWouldMeet() {
        MigrationSettings s = new MigrationSettings();
        assertThat(s.check(throttle(50L, 40L))).isEqualTo(
                "Parameter 'max_cpu_throttle' expects an integer in the range of cpu_throttle_initial to 99");
        s.apply(throttle(null, 40L)); // valid next to the default initial of 20
        assertThat(s.check(throttle(50L, null))).as("now the initial alone collides with the max set before")
                .isEqualTo("Parameter 'max_cpu_throttle' expects an integer in the range of cpu_throttle_initial to 99");
        assertThat(s.autoConverge().max()).isEqualTo(40);
    }

    @Test
    void aRefusedUpdateChangesNothing() {
        MigrationSettings s = new MigrationSettings();
        MigrationSettings.Update bad = new MigrationSettings.Update(100L, 1L, null, 30L, null, null, null, null, 0L, null);
        assertThatThrownBy(() -> s.apply(bad)).hasMessage("Parameter 'vcpu_dirty_limit' expects is invalid, it must greater then 1 MB/s");
        assertThat(s.downtimeLimitMs()).isEqualTo(300);
        assertThat(s.maxBandwidth()).isEqualTo(MigrationSettings.DEFAULT_MAX_BANDWIDTH);
        assertThat(s.autoConverge().initial()).isEqualTo(20);
        assertThat(s.vcpuDirtyLimit()).isEqualTo(1);
    }

    @Test
    void dirtyLimitParametersUseQemusRangesAndDefaults() {
        MigrationSettings s = new MigrationSettings();
        assertThat(s.vcpuDirtyLimit()).isEqualTo(1);
        assertThat(s.dirtyLimitPeriodMs()).isEqualTo(1000);
        assertThat(s.check(new MigrationSettings.Update(null, null, null, null, null, null, null, null, null, 1001L)))
                .isEqualTo("Parameter 'x-vcpu-dirty-limit-period' expects a value between 1 and 1000");
        s.apply(new MigrationSettings.Update(null, null, null, null, null, null, null, null, 64L, 500L));
        assertThat(s.vcpuDirtyLimit()).isEqualTo(64);
        assertThat(s.dirtyLimitPeriodMs()).isEqualTo(500);
    }

    @Test
    void dirtyLimitAndAutoConvergeExcludeEachOther() {
        MigrationSettings s = new MigrationSettings();
        String conflict = "dirty-limit conflicts with auto-converge either of then available currently";
        assertThat(s.checkCapabilities(Map.of(MigrationCapability.DIRTY_LIMIT, true, MigrationCapability.AUTO_CONVERGE, true)))
                .isEqualTo(conflict);
        s.set(MigrationCapability.AUTO_CONVERGE, true);
        assertThat(s.checkCapabilities(Map.of(MigrationCapability.DIRTY_LIMIT, true))).isEqualTo(conflict);
        assertThat(s.checkCapabilities(Map.of(MigrationCapability.DIRTY_LIMIT, true, MigrationCapability.AUTO_CONVERGE, false)))
                .as("switching one off while the other goes on is fine").isNull();
    }
}
