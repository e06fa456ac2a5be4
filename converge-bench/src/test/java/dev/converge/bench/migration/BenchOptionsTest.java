package dev.converge.bench.migration;

import dev.converge.bench.Sizes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class BenchOptionsTest {
    @Test
    void defaultsAreWhatTheIssueAsks() {
        BenchOptions o = BenchOptions.parse();
        assertThat(o.memory()).isEqualTo(2L << 30);
        assertThat(o.workloads()).containsExactly(Workload.IDLE, Workload.PATTERN);
        assertThat(o.downtimes()).containsExactly(300L, 50L);
        assertThat(o.sides()).containsExactly("converge", "qemu");
        assertThat(o.accel()).isEmpty();
        assertThat(o.aids()).containsExactly(ConvergenceAid.NONE, ConvergenceAid.AUTO_CONVERGE, ConvergenceAid.DIRTY_LIMIT);
        assertThat(o.rateMatch()).isTrue();
        assertThat(o.verifyCost()).isTrue();
        assertThat(o.dirtyRate()).as("as fast as the guest can").isZero();
    }

    @Test
    void parsesEveryOption() {
        BenchOptions o = BenchOptions.parse("--memory", "512M", "--workloads", "pattern", "--downtimes", "10,20,30",
                "--sides", "qemu", "--accel", "tcg", "--timeout", "7", "--aids", "dirty-limit", "--rate-match", "no",
                "--verify-cost", "no", "--dirty-rate", "640M");
        assertThat(o).isEqualTo(new BenchOptions(512L << 20, List.of(Workload.PATTERN), List.of(10L, 20L, 30L),
                new java.util.LinkedHashSet<>(List.of("qemu")), Optional.of(QemuGuest.Accel.TCG), Duration.ofSeconds(7),
                List.of(ConvergenceAid.DIRTY_LIMIT), false, false, 640L << 20));
    }

    @Test
    void sizesReadAsQemuReadsMinusM() {
        assertThat(Sizes.parseMiB("--memory", "2G")).isEqualTo(2L << 30);
        assertThat(Sizes.parseMiB("--memory", "2g")).isEqualTo(2L << 30);
        assertThat(Sizes.parseMiB("--memory", "2GB")).isEqualTo(2L << 30);
        assertThat(Sizes.parseMiB("--memory", "1024")).isEqualTo(1L << 30);
        assertThat(Sizes.parseMiB("--memory", "4096K")).isEqualTo(4L << 20);
        assertThat(Sizes.parse("--size", "1024")).as("elsewhere a bare number is bytes").isEqualTo(1024);
        assertThatThrownBy(() -> Sizes.parse("--mirror", "1Q")).hasMessageStartingWith("--mirror: '1Q'");
    }

    @Test
    void badInputIsNamed() {
        assertThatThrownBy(() -> BenchOptions.parse("--memory", "lots")).hasMessageContaining("--memory: 'lots'");
        assertThatThrownBy(() -> BenchOptions.parse("--memory", "8G")).hasMessageContaining("--memory");
        assertThatThrownBy(() -> BenchOptions.parse("--memory", "-1")).hasMessageContaining("--memory");
        assertThatThrownBy(() -> BenchOptions.parse("--workloads", "idle,stress")).hasMessageContaining("'stress'");
        assertThatThrownBy(() -> BenchOptions.parse("--downtimes", "300,0")).hasMessageContaining("--downtimes: '0'");
        assertThatThrownBy(() -> BenchOptions.parse("--downtimes", "300,")).hasMessageContaining("empty item");
        assertThatThrownBy(() -> BenchOptions.parse("--sides", "xen")).hasMessageContaining("'xen'");
        assertThatThrownBy(() -> BenchOptions.parse("--accel", "hvf")).hasMessageContaining("'hvf'");
        assertThatThrownBy(() -> BenchOptions.parse("--timeout")).hasMessageContaining("--timeout: missing value");
        assertThatThrownBy(() -> BenchOptions.parse("--speed", "1")).hasMessageContaining("unknown option '--speed'");
        assertThatThrownBy(() -> BenchOptions.parse("--aids", "none,turbo")).hasMessageContaining("--aids: 'turbo'");
        assertThatThrownBy(() -> BenchOptions.parse("--rate-match", "1")).hasMessageContaining("--rate-match: '1'");
        assertThatThrownBy(() -> BenchOptions.parse("--dirty-rate", "fast")).hasMessageContaining("--dirty-rate: 'fast'");
    }
}
