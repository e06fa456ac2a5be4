package dev.converge.migration.postcopy;

import dev.converge.migration.precopy.MigrationException;
import java.nio.channels.SocketChannel;

/**
 * What the owner of an outgoing migration (the job) supplies to its postcopy phase. Called on
 * the migration's thread.
 */
public interface PostcopyControl {
    /** The phase changed (postcopy-active, postcopy-paused, postcopy-recover). */
    void phase(PostcopyPhase phase, String why);

    /** After every batch: pages sent and still to send, requests served, bytes sent in postcopy. */
    void progress(PostcopyProgress progress);

    /** max-postcopy-bandwidth now, bytes per second, 0 = unlimited (the background push only). */
    long maxPostcopyBandwidth();

    /**
     * The connections of a recovery: the main stream's and, when the migration uses one, a new
     * preempt channel's (else null), both to where {@code migrate} with {@code resume} points.
     */
    record Recovery(SocketChannel main, SocketChannel preempt) {
    }

    /**
     * Waits, paused, until the user resumes the migration over a new connection
     * ({@code migrate} with {@code resume: true}), connects it (and, with {@code preempt}, a
     * second one for the preempt channel, after the first) and returns them.
     *
     * @throws MigrationException    when the migration can never resume (the daemon shuts down)
     * @throws InterruptedException  likewise
     */
    Recovery awaitRecovery(boolean preempt) throws MigrationException, InterruptedException;
}
