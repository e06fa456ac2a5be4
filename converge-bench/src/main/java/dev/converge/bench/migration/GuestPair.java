package dev.converge.bench.migration;

import dev.converge.qmp.client.QmpClient;
import java.time.Duration;

/**
 * A running source and a destination waiting for an incoming migration, of one side (QEMU or
 * converged), with the checks only that side knows how to do. {@link MigrationRun} drives the QMP
 * sequence, which is the same for both; closing the pair ends both processes.
 */
public interface GuestPair extends AutoCloseable {
    /** The source's QMP client. */
    QmpClient source();

    /** The destination's QMP client (started with {@code -incoming defer} or {@code --incoming defer}). */
    QmpClient destination();

    /**
     * Waits until the source's workload is in its steady state (QEMU: the boot sector runs, and the
     * pattern guest has finished a pass over all of its RAM) and checks that it writes memory (or,
     * for idle, does not).
     *
     * @return what was observed, for the report
     * @throws CheckFailedException when the guest does not behave so by {@code deadline}
     */
    String awaitWorkloadRunning(Duration deadline);

    /**
     * Compares the guest state of the stopped source (postmigrate) and the paused destination.
     *
     * @return what was compared, for the report
     * @throws CheckFailedException when they differ
     */
    String compareState();

    /**
     * After {@code cont} on the destination: checks that it runs the workload.
     *
     * @return what was observed, for the report
     * @throws CheckFailedException when it does not by {@code deadline}
     */
    String checkDestinationRuns(Duration deadline);

    /**
     * Bytes the source's guest wrote to its serial port so far (the pattern guest: one per pass
     * over its RAM), or -1 when this pair does not capture it. Read while the migration runs, for
     * the trace of the guest's speed.
     */
    default long sourceSerialBytes() {
        return -1;
    }

    /** Ends both processes. */
    @Override
    void close();
}
