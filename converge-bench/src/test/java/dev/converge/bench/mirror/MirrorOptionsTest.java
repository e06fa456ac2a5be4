package dev.converge.bench.mirror;

import dev.converge.bench.Sizes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import org.junit.jupiter.api.Test;

/** The command line: defaults as the issue asks, sizes with suffixes, errors naming the option. */
class MirrorOptionsTest {
    @Test
    void defaultsAreFourGibAllCasesFiftyMib() {
        MirrorOptions o = MirrorOptions.parse();
        assertThat(o.size()).isEqualTo(4L << 30);
        assertThat(o.cases()).containsExactlyInAnyOrder(MirrorCase.values());
        assertThat(o.writeRate()).isEqualTo(50L << 20);
        assertThat(o.dir()).isEqualTo(Path.of(System.getProperty("java.io.tmpdir")));
    }

    @Test
    void everyOptionIsRead() {
        MirrorOptions o = MirrorOptions.parse("--size", "16M", "--dir", "/var/tmp", "--cases", "full, writer",
                "--write-rate", "10MiB", "--runs", "5", "--ready-timeout", "30");
        assertThat(o.size()).isEqualTo(16L << 20);
        assertThat(o.dir()).isEqualTo(Path.of("/var/tmp"));
        assertThat(o.cases()).isEqualTo(EnumSet.of(MirrorCase.FULL, MirrorCase.WRITER));
        assertThat(o.writeRate()).isEqualTo(10L << 20);
        assertThat(o.runs()).isEqualTo(5);
        assertThat(o.readyTimeout()).isEqualTo(Duration.ofSeconds(30));
    }

    @Test
    void sizesTakeBinarySuffixes() {
        assertThat(Sizes.parse("--size", "4G")).isEqualTo(4L << 30);
        assertThat(Sizes.parse("--size", "1t")).isEqualTo(1L << 40);
        assertThat(Sizes.parse("--size", "512K")).isEqualTo(512L << 10);
        assertThat(Sizes.parse("--size", "1048576")).isEqualTo(1L << 20);
        assertThat(Sizes.parse("--size", "2GB")).isEqualTo(2L << 30);
    }

    @Test
    void badValuesNameTheOption() {
        assertThatThrownBy(() -> MirrorOptions.parse("--size", "4X")).hasMessageStartingWith("--size: '4X'");
        assertThatThrownBy(() -> MirrorOptions.parse("--size", "1000K")).hasMessageContaining("multiple of 1 MiB");
        assertThatThrownBy(() -> MirrorOptions.parse("--size", "-1G")).hasMessageStartingWith("--size");
        assertThatThrownBy(() -> MirrorOptions.parse("--cases", "full,copy")).hasMessageContaining("'copy'")
                .hasMessageContaining("full, sparse, cp, writer");
        assertThatThrownBy(() -> MirrorOptions.parse("--cases", "full,")).hasMessageContaining("empty item");
        assertThatThrownBy(() -> MirrorOptions.parse("--runs", "0")).hasMessageStartingWith("--runs: '0'");
        assertThatThrownBy(() -> MirrorOptions.parse("--write-rate")).hasMessageStartingWith("--write-rate: missing value");
        assertThatThrownBy(() -> MirrorOptions.parse("--speed", "1")).hasMessageContaining("unknown option '--speed'");
    }

    @Test
    void spaceNeededCountsTheSourcesAndOneTarget() {
        long g = 1L << 30;
        MirrorOptions all = MirrorOptions.parse("--size", "1G");
        // full source + sparse source (10% = 102 of 1024 MiB extents) + one full-size target + margin
        assertThat(MirrorBench.spaceNeeded(all)).isEqualTo(g + 102 * Sizes.MiB + g + 256 * Sizes.MiB);
        MirrorOptions sparse = MirrorOptions.parse("--size", "1G", "--cases", "sparse");
        assertThat(MirrorBench.spaceNeeded(sparse)).isEqualTo(2 * 102 * Sizes.MiB + 256 * Sizes.MiB);
    }
}
