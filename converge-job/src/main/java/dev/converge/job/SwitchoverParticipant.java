package dev.converge.job;

/**
 * A {@link JobDriver} that can take part in a grouped switchover led by another job of its
 * transaction (a mirror of a disk of the machine a migration moves). The engine knows the
 * participants of a transaction by this interface, not by job type; see
 * {@link GroupedSwitchover} for the sequence.
 */
public interface SwitchoverParticipant {
    /**
     * The leader is about to stop the guest; the guest still runs. Do now what would otherwise
     * lengthen the stopped window (a mirror flushes its target, so that its final flush has only
     * the last writes to make durable). Called on a thread of the leader's while {@link
     * JobDriver#run} goes on, so it must be safe alongside it. Best effort: a failure here is not
     * the job's error; what matters fails again, and is reported, in run().
     */
    void prepareSwitchover();

    /**
     * The guest is stopped for the switchover: finish <em>in place</em>, that is end run()
     * successfully once the work is complete and consistent, and then commit without taking
     * over (a mirror drains, copies its remainder, flushes its target, and leaves the source's
     * users on the source). Called on the main loop while the job is READY or STANDBY; must
     * only record the request and wake the job.
     */
    void finishInPlace();
}
