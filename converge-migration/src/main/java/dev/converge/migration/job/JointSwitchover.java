package dev.converge.migration.job;

import dev.converge.job.GroupedSwitchover;
import dev.converge.job.GroupedSwitchover.Readiness;
import dev.converge.job.Job;
import dev.converge.job.JobEngine;
import dev.converge.job.JobException;
import dev.converge.migration.precopy.MigrationException;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The switchover of a migration together with the mirrors of its job transaction (docs/architecture.md,
 * "The joint switchover"): the disks and the memory of one machine move as one transaction, and
 * switch over at one instant. The engine's {@link GroupedSwitchover} does the generic part (the
 * migration leads; the mirrors, as {@code SwitchoverParticipant}s, finish in place at its word);
 * this class puts it into the migration's terms and errors.
 *
 * <h2>Sequence</h2>
 * <ol>
 * <li>Until the switchover every job runs on its own: the mirrors copy and go READY when in
 *     sync, the migration iterates and converges.</li>
 * <li>The switchover is the migration's: {@code job-complete} on it (auto-complete: converged
 *     <em>and</em> every mirror ready). A job-complete while a mirror is not ready is
 *     <b>refused</b> with an error naming the mirror, and nothing changes (the user retries
 *     once BLOCK_JOB_READY came). Refusing, not waiting, keeps job-complete's meaning ("switch
 *     over now") and never leaves a complete pending behind a mirror that may never converge.</li>
 * <li>Just before, {@link #prepareMirrors} has every mirror flush its target while the guest
 *     still runs, so that the flush left for the stopped window is small.</li>
 * <li>The migration stops the vCPUs, then {@link #completeMirrors} has every mirror finish
 *     <em>in place</em> (no pivot): nothing writes the disks any more, so each drains, copies
 *     its remainder, flushes its target and ends with a consistent copy; meanwhile the
 *     migration sends the remaining RAM and the device state.</li>
 * <li>Every job's run() ends; the engine keeps them WAITING until the last one (a mirror still
 *     draining), then PENDING together, then finalize: the migration's commit sends START (the
 *     destination machine runs on the mirrors' targets), the source goes to postmigrate; the
 *     mirrors' commit leaves the source's users on the source.</li>
 * </ol>
 *
 * <h2>Why no pivot</h2>
 * The destination machine owns the copies; the source machine keeps its own disks. If anything
 * fails before finalize (a mirror's target, the destination, a cancel), the engine aborts every
 * job: the migration's abort resumes the source's vCPUs on disks that the mirrors only ever
 * read, so it runs on as if nothing had happened, and the destination discards. A pivot would
 * have tied the source to the destination's disks, which are gone exactly when rolling back.
 * <p>
 * Why the mirrors are completed only here: a mirror that finished earlier stopped following
 * the source, so its target would be older than the memory sent later. Such a mirror makes the
 * switchover impossible ({@link Readiness.Broken}); so the engine refuses the user's
 * job-complete of a participant and the mirror layer its soft cancel.
 *
 * <h2>Threads</h2>
 * Made on the main loop before the migration starts; {@link #checkComplete} runs there;
 * {@link #readyForAutoComplete}, {@link #prepareMirrors} and {@link #completeMirrors} on the
 * migration's job thread.
 */
public final class JointSwitchover {
    private final GroupedSwitchover grouped;

    private JointSwitchover(GroupedSwitchover grouped) {
        this.grouped = Objects.requireNonNull(grouped);
    }

    /**
     * Makes {@code owner} lead the switchover of its transaction; the joint switchover with its
     * mirrors (the transaction's switchover participants), or empty when there are none (a
     * migration alone). Main loop, after every job of the transaction was created.
     */
    public static Optional<JointSwitchover> of(JobEngine engine, Job owner) {
        return engine.leadSwitchover(owner).map(JointSwitchover::new);
    }

    /** The mirror jobs that switch over with the migration, in creation order. */
    public List<Job> mirrors() {
        return grouped.participants();
    }

    /**
     * The migration's job-complete: refuses unless every mirror is ready. Main loop.
     *
     * @throws JobException "Cannot switch over 'ID': mirror job 'M' is not ready ..." (or ended)
     */
    public void checkComplete() {
        grouped.checkComplete();
    }

    /**
     * Auto-complete's question, after a pass that converged: whether every mirror is ready.
     * Migration's job thread.
     *
     * @throws MigrationException.JointSwitchoverFailed when a mirror ended before the switchover
     */
    public boolean readyForAutoComplete() throws MigrationException {
        return switch (grouped.readiness()) {
            case Readiness.Ready r -> true;
            case Readiness.NotYet n -> false;
            case Readiness.Broken b -> throw new MigrationException.JointSwitchoverFailed(b.reason(), null);
        };
    }

    /**
     * Just before the vCPUs stop: every mirror flushes its target while the guest still runs, all
     * at once; returns when all are done. Best effort. Migration's job thread.
     */
    public void prepareMirrors() {
        grouped.prepare();
    }

    /**
     * With the vCPUs stopped: has every mirror finish in place and returns once all were told;
     * the mirrors drain on their own threads. Migration's job thread.
     *
     * @throws MigrationException.JointSwitchoverFailed a mirror is not ready any more, or the main
     *                                                  loop refused; the caller resumes the vCPUs
     */
    public void completeMirrors() throws MigrationException {
        try {
            grouped.finishInPlace();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigrationException.Interrupted(e);
        } catch (GroupedSwitchover.Refused e) {
            throw new MigrationException.JointSwitchoverFailed(e.getMessage(), e.getCause());
        }
    }
}
