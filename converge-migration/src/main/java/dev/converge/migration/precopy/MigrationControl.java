package dev.converge.migration.precopy;

import java.time.Duration;

/**
 * What the owner of an outgoing migration (the job engine, later) supplies to the precopy
 * loop. The loop calls these from its own thread; implementations synchronize their state.
 * Every blocking method must return promptly (or throw) once the migration is cancelled.
 */
public interface MigrationControl {
    /** Pause point, after every batch: parks while the owner pauses the migration. */
    void checkpoint() throws InterruptedException;

    /** Whether the owner cancelled the migration; checked before and after blocking. */
    boolean isCancelled();

    /** Called after {@code bytes} were written; blocks as long as max-bandwidth requires. */
    void rateLimit(long bytes) throws InterruptedException;

    /** Progress after every pass. */
    void progress(MigrationProgress progress);

    /** Counters within a pass, about every {@link PassProgress#INTERVAL_NANOS}; superseded by the next {@link #progress}. */
    default void passProgress(PassProgress progress) {
    }

    /** The first pass after which the policy says converged (the job goes ready). */
    void converged(MigrationProgress progress);

    /**
     * Whether the owner wants the switchover now (complete, or auto-complete when converged).
     *
     * @throws MigrationException when the switchover can never happen (the migration then fails)
     */
    boolean completeRequested() throws MigrationException;

    /** Waits up to {@code max} before the next pass when nothing was dirty; cancel and complete cut it short. */
    void idle(Duration max) throws InterruptedException;

    /**
     * Auto-converge's parameters as they are now, or null when the capability is off. Asked
     * after every pass.
     */
    default AutoConverge.Params autoConverge() {
        return null;
    }

    /**
     * How long, recently, the owner took to decide: the time from the end of
     * {@link PrecopySender#runToSwitchover} to its call of commit, during which the vCPUs stay
     * stopped (the job engine's hand-over to its main loop). Part of the downtime estimate. Zero
     * when the owner commits on the sender's thread as soon as it returns (no hand-over).
     */
    default Duration decisionLatency() {
        return Duration.ZERO;
    }

    /**
     * The dirty-limit capability's settings as they are now, or null when it is off. Asked
     * after every pass.
     */
    default DirtyLimit dirtyLimit() {
        return null;
    }

    /**
     * What the dirty-limit capability applies when the guest dirties too fast.
     *
     * @param bytesPerSecond   the cap on each vCPU's dirty rate (vcpu-dirty-limit)
     * @param triggerThreshold throttle-trigger-threshold, % of the bytes sent, 1..100
     */
    record DirtyLimit(long bytesPerSecond, int triggerThreshold) {
    }

    /**
     * The switchover begins: the vCPUs are about to stop (QEMU's "device" phase). The guest still
     * runs here, so the owner may prepare what shortens the stopped window (a joint switchover
     * flushes the mirrors' targets); when that takes long, the sender sends what was dirtied
     * meanwhile before it stops the vCPUs.
     */
    default void switchingOver() {
    }

    /**
     * The vCPUs just stopped, before the remaining RAM and the device state are sent: the owner
     * finishes what must end with the guest stopped (the mirrors of a joint switchover).
     *
     * @throws MigrationException the switchover cannot go on; the vCPUs then resume
     */
    default void vcpusStopped() throws MigrationException {
    }

    /**
     * The switchover failed after the vCPUs stopped, just before the sender resumes them: the
     * owner can announce the failure first, as QEMU does (MIGRATION failed, then RESUME).
     *
     * @param cause what failed (the exception the sender is about to throw), or null if unknown
     */
    default void switchoverFailed(Throwable cause) {
    }

    /**
     * Whether the owner asked to switch to postcopy (migrate-start-postcopy, job-change); asked
     * after every pass. The sender then stops the vCPUs and runs the postcopy phase.
     */
    default boolean postcopyRequested() {
        return false;
    }

    /** Whether this migration may switch to postcopy (capability postcopy-ram at its start): the header says so. */
    default boolean postcopyAdvised() {
        return false;
    }

    /**
     * The switch to postcopy begins (instead of {@link #switchingOver}): the guest still runs,
     * the owner prepares what must end with it stopped.
     */
    default void postcopyStarting() {
    }

    /** The owner's side of the postcopy phase; asked once, when the switch happens. */
    default dev.converge.migration.postcopy.PostcopyControl postcopy() {
        throw new UnsupportedOperationException("postcopy is not enabled");
    }
}
