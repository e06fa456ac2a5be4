package dev.converge.migration.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class MigrationSettingsTest {
    private static MigrationParameters.Update throttle(Long initial, Long max) {
        return new MigrationParameters.Update(null, null, null, initial, null, null, max, null, null, null);
    }

    @Test
    void maxCpuThrottleIsCheckedAgainstTheInitialThrottleItWouldMeet() {
        MigrationSettings s = new MigrationSettings();
        assertThat(s.parameters().check(throttle(50L, 40L))).isEqualTo(
                "Parameter 'max_cpu_throttle' expects an integer in the range of cpu_throttle_initial to 99");
        s.apply(throttle(null, 40L)); // valid next to the default initial of 20
        assertThat(s.parameters().check(throttle(50L, null))).as("now the initial alone collides with the max set before")
                .isEqualTo("Parameter 'max_cpu_throttle' expects an integer in the range of cpu_throttle_initial to 99");
        assertThat(s.parameters().autoConverge().max()).isEqualTo(40);
    }

    @Test
    void aRefusedUpdateChangesNothing() {
        MigrationSettings s = new MigrationSettings();
        MigrationParameters.Update bad = new MigrationParameters.Update(100L, 1L, null, 30L, null, null, null, null, 0L, null);
        assertThatThrownBy(() -> s.apply(bad)).hasMessage("Parameter 'vcpu_dirty_limit' expects is invalid, it must greater then 1 MB/s");
        assertThat(s.parameters().downtimeLimitMs()).isEqualTo(300);
        assertThat(s.parameters().maxBandwidth()).isEqualTo(MigrationParameters.DEFAULT_MAX_BANDWIDTH);
        assertThat(s.parameters().autoConverge().initial()).isEqualTo(20);
        assertThat(s.parameters().vcpuDirtyLimit()).isEqualTo(1);
        assertThat(s.parameters()).isEqualTo(MigrationParameters.DEFAULTS);
    }

    @Test
    void jobChangeAndSetParametersShareOneMerge() {
        MigrationSettings s = new MigrationSettings();
        MigrationParameters before = s.parameters();
        assertThatThrownBy(() -> s.apply(MigrationParameters.Update.ofJobChange(2_000_001L, 5L)))
                .isInstanceOf(MigrationParameters.InvalidParameter.class)
                .hasMessage("Parameter 'downtime_limit' expects an integer in the range of 0 to 2000000 ms");
        assertThat(s.parameters()).as("a refused change changes nothing").isSameAs(before);
        MigrationParameters after = s.apply(MigrationParameters.Update.ofJobChange(50L, null));
        assertThat(after.downtimeLimitMs()).isEqualTo(50);
        assertThat(after.maxBandwidth()).isEqualTo(MigrationParameters.DEFAULT_MAX_BANDWIDTH);
        assertThat(after.policy().downtimeLimit()).hasMillis(50);
        assertThat(s.parameters()).isSameAs(after);
    }

    @Test
    void dirtyLimitParametersUseQemusRangesAndDefaults() {
        MigrationSettings s = new MigrationSettings();
        assertThat(s.parameters().vcpuDirtyLimit()).isEqualTo(1);
        assertThat(s.parameters().dirtyLimitPeriodMs()).isEqualTo(1000);
        assertThat(s.parameters().check(new MigrationParameters.Update(null, null, null, null, null, null, null, null, null, 1001L)))
                .isEqualTo("Parameter 'x-vcpu-dirty-limit-period' expects a value between 1 and 1000");
        s.apply(new MigrationParameters.Update(null, null, null, null, null, null, null, null, 64L, 500L));
        assertThat(s.parameters().vcpuDirtyLimit()).isEqualTo(64);
        assertThat(s.parameters().dirtyLimitPeriodMs()).isEqualTo(500);
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
