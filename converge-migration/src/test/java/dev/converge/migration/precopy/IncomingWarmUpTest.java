package dev.converge.migration.precopy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class IncomingWarmUpTest {
    @Test
    void itDecodesAndAppliesItsBatchesUntilTold() {
        assertThat(IncomingWarmUp.run(50, () -> false)).isEqualTo(50);
        AtomicInteger asked = new AtomicInteger();
        assertThat(IncomingWarmUp.run(50, () -> asked.incrementAndGet() > 3)).as("stops when the migration starts").isEqualTo(3);
        assertThat(IncomingWarmUp.run(50, () -> true)).isZero();
    }

    @Test
    void itsSwitchoverEndsCompletedWithTheDigestAgreeing() {
        assertThat(IncomingWarmUp.switchover()).isEqualTo(new IncomingMigration.Completed(1, 1));
    }
}
