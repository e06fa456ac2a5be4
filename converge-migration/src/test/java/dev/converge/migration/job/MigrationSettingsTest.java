package dev.converge.migration.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import static org.junit.jupiter.params.provider.Arguments.arguments;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class MigrationSettingsTest {
    private static MigrationParameters.Update throttle(Long initial, Long max) {
        MigrationParameters.Update u = MigrationParameters.Update.NONE;
        if (initial != null) {
            u = u.then(p -> p.withThrottle(p.throttle().withInitial(initial)));
        }
        return max == null ? u : u.then(p -> p.withThrottle(p.throttle().withMax(max)));
    }

    private static MigrationParameters.Update of(java.util.function.UnaryOperator<MigrationParameters> change) {
        return MigrationParameters.Update.NONE.then(change);
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
        MigrationParameters.Update bad = MigrationParameters.Update.ofJobChange(100L, 1L)
                .then(p -> p.withThrottle(p.throttle().withInitial(30)).withVcpuDirtyLimit(0));
        assertThatThrownBy(() -> s.apply(bad)).hasMessage("Parameter 'vcpu_dirty_limit' must be greater than 1 MB/s");
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
        assertThat(s.parameters().check(of(p -> p.withDirtyLimitPeriodMs(1001))))
                .isEqualTo("Parameter 'x-vcpu-dirty-limit-period' expects a value between 1 and 1000");
        s.apply(of(p -> p.withVcpuDirtyLimit(64).withDirtyLimitPeriodMs(500)));
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

    @Test
    void defaultsAreQemus() {
        MigrationParameters d = MigrationParameters.DEFAULTS;
        assertThat(d.announce()).isEqualTo(new MigrationParameters.Announce(50, 550, 5, 100));
        assertThat(d.multifd()).isEqualTo(new MigrationParameters.Multifd(2, MultifdCompression.NONE, 1, 1, 1));
        assertThat(d.xbzrleCacheSize()).isEqualTo(64L << 20);
        assertThat(d.checkpointDelayMs()).isEqualTo(20_000);
        assertThat(d.maxPostcopyBandwidth()).isZero();
        assertThat(d.tls()).isEqualTo(MigrationParameters.Tls.NONE);
        assertThat(d.mode()).isEqualTo(MigrationMode.NORMAL);
        assertThat(d.zeroPageDetection()).isEqualTo(ZeroPageDetection.MULTIFD);
        assertThat(d.blockBitmapMapping()).isEmpty();
        assertThat(d.problem()).as("the defaults pass QEMU's checks").isNull();
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("invalidSets")
    void eachCheckHasQemusText(java.util.function.UnaryOperator<MigrationParameters> change, String error) {
        MigrationSettings s = new MigrationSettings();
        assertThatThrownBy(() -> s.apply(of(change))).isInstanceOf(MigrationParameters.InvalidParameter.class)
                .hasMessage(error);
        assertThat(s.parameters()).isSameAs(MigrationParameters.DEFAULTS);
    }

    static java.util.stream.Stream<Arguments> invalidSets() {
        return java.util.stream.Stream.of(
                arguments(op(p -> p.withMultifd(p.multifd().withChannels(0))),
                        "Parameter 'multifd_channels' expects a value between 1 and 255"),
                arguments(op(p -> p.withMultifd(p.multifd().withZlibLevel(10))),
                        "Parameter 'multifd_zlib_level' expects a value between 0 and 9"),
                arguments(op(p -> p.withMultifd(p.multifd().withZstdLevel(21))),
                        "Parameter 'multifd_zstd_level' expects a value between 0 and 20"),
                arguments(op(p -> p.withMultifd(p.multifd().withQatzipLevel(0))),
                        "Parameter 'multifd_qatzip_level' expects a value between 1 and 9"),
                arguments(op(p -> p.withXbzrleCacheSize(3 << 20)),
                        "Parameter 'xbzrle_cache_size' expects a power of two no less than the target page size"),
                arguments(op(p -> p.withXbzrleCacheSize(2048)),
                        "Parameter 'xbzrle_cache_size' expects a power of two no less than the target page size"),
                arguments(op(p -> p.withAnnounce(new MigrationParameters.Announce(100_001, 550, 5, 100))),
                        "Parameter 'announce_initial' expects a value between 0 and 100000"),
                arguments(op(p -> p.withAnnounce(new MigrationParameters.Announce(50, 550, 1001, 100))),
                        "Parameter 'announce_rounds' expects a value between 0 and 1000"),
                arguments(op(p -> p.withAnnounce(new MigrationParameters.Announce(50, 550, 5, 0))),
                        "Parameter 'announce_step' expects a value between 0 and 10000"),
                arguments(op(p -> p.withDowntimeLimitMs(-3)),
                        "Parameter 'downtime_limit' expects an integer in the range of 0 to 2000000 ms"),
                arguments(op(p -> p.withBlockBitmapMapping(java.util.List.of(
                        new BitmapNodeAlias("n0", "a", java.util.List.of()), new BitmapNodeAlias("n1", "a", java.util.List.of())))),
                        "Invalid mapping given for block-bitmap-mapping: The node alias 'a' is used twice"));
    }

    private static java.util.function.UnaryOperator<MigrationParameters> op(
            java.util.function.UnaryOperator<MigrationParameters> change) {
        return change;
    }

    @Test
    void maxBandwidthTakesQemusLargestValue() {
        MigrationSettings s = new MigrationSettings();
        MigrationParameters p = s.apply(MigrationParameters.Update.NONE.thenMaxBandwidth(-1));
        assertThat(Long.toUnsignedString(p.maxBandwidth())).isEqualTo("18446744073709551615");
        assertThat(p.jobSpeed()).as("unlimited for the job engine").isZero();
        assertThat(MigrationParameters.Update.NONE.thenMaxBandwidth(5).setsMaxBandwidth()).isTrue();
        assertThat(MigrationParameters.Update.ofJobChange(5L, null).setsMaxBandwidth()).isFalse();
    }

    @Test
    void unimplementedCapabilitiesAreRefusedByName() {
        MigrationSettings s = new MigrationSettings();
        assertThat(s.checkCapabilities(Map.of(MigrationCapability.XBZRLE, true)))
                .isEqualTo("Migration capability 'xbzrle' is not supported by converge (XOR-based zero-run-length "
                        + "encoding of re-sent pages is not implemented)");
        assertThat(s.checkCapabilities(Map.of(MigrationCapability.XBZRLE, false))).as("turning one off is fine").isNull();
        assertThat(java.util.Arrays.stream(MigrationCapability.values()).map(MigrationCapability::wireName))
                .as("QEMU 10.0's list, in its order, then converge's own")
                .containsExactly("xbzrle", "rdma-pin-all", "auto-converge", "zero-blocks", "events", "postcopy-ram",
                        "x-colo", "release-ram", "return-path", "pause-before-switchover", "multifd", "dirty-bitmaps",
                        "postcopy-blocktime", "late-block-activate", "x-ignore-shared", "validate-uuid",
                        "background-snapshot", "zero-copy-send", "postcopy-preempt", "switchover-ack", "dirty-limit",
                        "mapped-ram", "x-converge-verify");
    }
}
