package dev.converge.migration.precopy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.migration.machine.GuestRam;
import dev.converge.migration.machine.MigrationBitmap;
import dev.converge.migration.machine.RamBlock;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class OutgoingWarmUpTest {
    @Test
    void itHarvestsUntilToldAndTheMigrationThatFollowsLosesNoMark() {
        try (GuestRam ram = new GuestRam(List.of(new GuestRam.BlockInfo("pc.ram", 64L * RamBlock.PAGE_SIZE)))) {
            ram.blocks().get(0).dirtyLog().mark(3);
            ram.blocks().get(0).dirtyLog().mark(63);

            assertThat(OutgoingWarmUp.run(ram, 5, () -> false)).isEqualTo(5);
            AtomicInteger asked = new AtomicInteger();
            assertThat(OutgoingWarmUp.run(ram, 5, () -> asked.incrementAndGet() > 3)).as("stops when a migration starts")
                    .isEqualTo(2);
            assertThat(OutgoingWarmUp.run(ram, 5, () -> true)).isZero();

            // The first pass of the migration after the warm-up still finds every page dirtied before it.
            MigrationBitmap first = ram.newMigrationBitmap();
            assertThat(ram.syncDirtyLog(first)).isEqualTo(2);
            assertThat(first.isSet(0, 3)).isTrue();
            assertThat(first.isSet(0, 63)).isTrue();
            MigrationBitmap written = ram.newMigrationBitmap();
            ram.markEverWritten(written);
            assertThat(written.count()).as("pages ever written").isEqualTo(2);
        }
    }
}
