package dev.converge.migration.machine;

import static org.awaitility.Awaitility.await;

import dev.converge.testing.TestTimeouts;
import java.util.stream.LongStream;

/**
 * For tests that need a guest's working set in RAM before a migration starts: under load the
 * vCPUs may not have run yet, and pages never written are not sent at all, so a first pass could
 * carry nothing and the migration converge before the guest dirties anything.
 */
public final class WorkingSet {
    private WorkingSet() {
    }

    /** Waits until more than half of the first {@code pages} pages of the first RAM block were written. */
    public static void awaitMostlyWritten(Machine machine, long pages) {
        RamBlock ram = machine.ram().blocks().get(0);
        await().atMost(TestTimeouts.MEDIUM).until(() -> LongStream.range(0, pages)
                .filter(pg -> ram.dirtyLog().everWritten(pg)).count() > pages / 2);
    }
}
