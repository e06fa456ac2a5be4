package dev.converge.bench.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.converge.bench.Daemons;
import dev.converge.daemon.launch.ChildDaemon;
import dev.converge.testing.TestTimeouts;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The benchmark's QEMU side end to end with a small guest: boot, the guest writes (or stays idle),
 * migration completes, source and destination RAM are equal, the destination runs on. Skipped
 * where qemu-system-x86_64 is not installed. Says nothing about speed.
 */
@Tag("integration")
class QemuMigrationTest {
    private static final long MEMORY = 64L << 20;

    private ProcessReaper reaper;

    @BeforeEach
    void requireQemu() {
        assumeTrue(Daemons.onPath(QemuGuest.BINARY), QemuGuest.BINARY + " not installed (apt-get install qemu-system-x86)");
        reaper = new ProcessReaper();
    }

    @AfterEach
    void killLeftovers() {
        if (reaper != null) {
            reaper.killAll();
        }
    }

    @ParameterizedTest
    @EnumSource(Workload.class)
    void migratesAndTheDestinationHoldsTheSameRamAndRuns(Workload workload, @TempDir Path dir) throws Exception {
        Scenario scenario = new Scenario(workload, MEMORY, 300, TestTimeouts.LONG);
        Outcome outcome;
        try (QemuPair pair = QemuPair.start(dir, scenario, QemuGuest.Accel.detect(), reaper, TestTimeouts.MEDIUM)) {
            outcome = new MigrationRun(TestTimeouts.MEDIUM).run(pair, scenario);
        }
        assertThat(outcome).as(outcome.summary()).isInstanceOf(Outcome.Completed.class);
        Outcome.Completed done = (Outcome.Completed) outcome;
        assertThat(done.figures().status()).isEqualTo("completed");
        assertThat(done.figures().totalTimeMs()).isPositive();
        assertThat(done.figures().downtimeMs()).isNotNegative();
        assertThat(done.figures().ramTotal()).isGreaterThanOrEqualTo(MEMORY);
        assertThat(done.check()).contains("RAM above 1 MiB equal").contains("destination running");
        if (workload == Workload.PATTERN) {
            // The pattern guest dirtied its RAM: more than the zero pages of an idle guest went over.
            assertThat(done.figures().transferred()).isGreaterThan(MEMORY / 2);
            assertThat(done.check()).contains("source guest writes").contains("destination running and writing");
        }
    }
}
