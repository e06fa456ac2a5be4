package dev.converge.bench.backup;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BackupBenchTest {
    @Test
    void aRatioAgainstAStallIsNotANumber() {
        assertThat(BackupBench.ratioOrNa(28.5, 0)).isEqualTo("n/a (28.5 vs 0.0 MiB/s)");
        assertThat(BackupBench.ratioOrNa(0, 0)).isEqualTo("n/a (0.0 vs 0.0 MiB/s)");
        assertThat(BackupBench.ratioOrNa(3, 2)).isEqualTo("1.50");
    }
}
