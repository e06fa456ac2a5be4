package dev.converge.migration.job;

import dev.converge.job.Job;
import dev.converge.job.JobEngine;
import dev.converge.job.JobException;
import dev.converge.job.JobStatus;
import dev.converge.migration.precopy.MigrationException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * The switchover of a migration together with the mirrors of its job transaction (docs/architecture.md,
 * "The joint switchover"): the disks and the memory of one machine move as one transaction, and
 * switch over at one instant.
 *
 * <h2>Sequence</h2>
 * <ol>
 * <li>Until the switchover every job runs on its own: the mirrors copy and go READY when in
 *     sync, the migration iterates and converges.</li>
 * <li>The switchover is the migration's: {@code job-complete} on it (auto-complete: converged
 *     <em>and</em> every mirror ready). Policy: {@link #assess}; a job-complete while a mirror
 *     is not ready is <b>refused</b> with an error naming the mirror, and nothing changes (the
 *     user retries once BLOCK_JOB_READY came). Refusing, not waiting, keeps job-complete's
 *     meaning ("switch over now") and never leaves a complete pending behind a mirror that may
 *     never converge.</li>
 * <li>Just before, {@link #prepareMirrors} has every mirror flush its target while the guest
 *     still runs, so that the flush left for the stopped window is small.</li>
 * <li>The migration stops the vCPUs, then {@link #completeMirrors} has every mirror finish
 *     <em>without pivot</em> (the soft cancel of a READY mirror): nothing writes the disks any
 *     more, so each drains, copies its remainder, flushes its target and ends with a consistent
 *     copy; meanwhile the migration sends the remaining RAM and the device state.</li>
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
 * switchover impossible ({@link Readiness.Broken}); the mirror layer therefore refuses the
 * user's job-complete and soft cancel on a mirror of such a transaction.
 *
 * <h2>Threads</h2>
 * Made on the main loop before the migration starts; the mirror jobs are fixed then (all
 * actions of a transaction are prepared before any job starts). {@link #checkComplete} runs on
 * the main loop; {@link #readyForAutoComplete} and {@link #completeMirrors} on the migration's
 * job thread, the latter handing the engine's verbs to the main loop and waiting for them.
 * Job statuses are read with {@link Job#status()} (volatile).
 */
public final class JointSwitchover {
    /** The job type of the partners this class completes (MirrorQmp.TYPE). */
    public static final String MIRROR_TYPE = "mirror";

    private final JobEngine engine;
    private final Executor mainLoop;
    private final String ownerId;
    private final List<Job> mirrors;

    private JointSwitchover(JobEngine engine, Executor mainLoop, String ownerId, List<Job> mirrors) {
        this.engine = engine;
        this.mainLoop = mainLoop;
        this.ownerId = ownerId;
        this.mirrors = List.copyOf(mirrors);
    }

    /**
     * The joint switchover of {@code owner} with the mirror jobs of its transaction, or empty
     * when there are none (a migration alone). Main loop, after every job of the transaction
     * was created.
     */
    public static Optional<JointSwitchover> of(JobEngine engine, Executor mainLoop, Job owner) {
        Objects.requireNonNull(mainLoop);
        List<Job> mirrors = engine.transactionPartners(owner).stream()
                .filter(j -> MIRROR_TYPE.equals(j.type())).toList();
        return mirrors.isEmpty() ? Optional.empty()
                : Optional.of(new JointSwitchover(engine, mainLoop, owner.id(), mirrors));
    }

    /** The mirror jobs that switch over with the migration, in creation order. */
    public List<Job> mirrors() {
        return mirrors;
    }

    // ---------------------------------------------------------------- policy

    /** What the policy sees of one mirror. */
    public record MirrorState(String id, JobStatus status, boolean cancelRequested) {
        static MirrorState of(Job j) {
            return new MirrorState(j.id(), j.status(), j.cancelRequested());
        }
    }

    /** Whether the switchover may happen now. */
    public sealed interface Readiness {
        /** Every mirror is in sync and still following the source. */
        record Ready() implements Readiness {
        }

        /** A mirror is still copying (or paused before ready): wait, or refuse a job-complete. */
        record NotYet(String reason) implements Readiness {
        }

        /** A mirror ended or is ending before the switchover: the switchover can never happen. */
        record Broken(String reason) implements Readiness {
        }
    }

    /**
     * The readiness policy, a pure function: Ready when every mirror is READY or STANDBY (a
     * paused mirror is still in sync; the switchover resumes it) and no cancel was asked of it;
     * NotYet naming the first mirror still copying; Broken naming the first that ended or is
     * being cancelled. Broken wins over NotYet.
     */
    public static Readiness assess(List<MirrorState> mirrors) {
        Readiness verdict = new Readiness.Ready();
        for (MirrorState m : mirrors) {
            switch (m.status()) {
                case READY, STANDBY -> {
                    if (m.cancelRequested()) {
                        return new Readiness.Broken("mirror job '" + m.id()
                                + "' was cancelled before the joint switchover");
                    }
                }
                case UNDEFINED, CREATED, RUNNING, PAUSED -> {
                    if (verdict instanceof Readiness.Ready) {
                        verdict = new Readiness.NotYet("mirror job '" + m.id() + "' is not ready (status "
                                + m.status().wireName() + "): the joint switchover needs every mirror in sync");
                    }
                }
                case WAITING, PENDING, ABORTING, CONCLUDED, NULL -> {
                    return new Readiness.Broken("mirror job '" + m.id() + "' ended before the joint switchover "
                            + "(status " + m.status().wireName() + "): its target no longer follows the source");
                }
            }
        }
        return verdict;
    }

    private Readiness assessNow() {
        List<MirrorState> states = new ArrayList<>(mirrors.size());
        for (Job j : mirrors) {
            states.add(MirrorState.of(j));
        }
        return assess(states);
    }

    // ---------------------------------------------------------------- mechanism

    /**
     * The migration's job-complete: refuses unless every mirror is ready. Main loop.
     *
     * @throws JobException "Cannot switch over 'ID': mirror job 'M' is not ready ..." (or ended)
     */
    public void checkComplete() {
        Readiness r = assessNow();
        switch (r) {
            case Readiness.Ready ready -> { }
            case Readiness.NotYet n -> throw JobException.generic("Cannot switch over '" + ownerId + "': " + n.reason());
            case Readiness.Broken b -> throw JobException.generic("Cannot switch over '" + ownerId + "': " + b.reason());
        }
    }

    /**
     * Auto-complete's question, after a pass that converged: whether every mirror is ready.
     * Migration's job thread.
     *
     * @throws MigrationException.JointSwitchoverFailed when a mirror ended before the switchover
     */
    public boolean readyForAutoComplete() throws MigrationException {
        return switch (assessNow()) {
            case Readiness.Ready r -> true;
            case Readiness.NotYet n -> false;
            case Readiness.Broken b -> throw new MigrationException.JointSwitchoverFailed(b.reason(), null);
        };
    }

    /**
     * Just before the vCPUs stop: every mirror does, while the guest still runs, what would
     * otherwise lengthen the stopped window (flushing its target; {@link JobEngine#prepareSwitchover}),
     * all mirrors at once, and this returns when all are done. Best effort: nothing here fails
     * the switchover. Migration's job thread.
     */
    public void prepareMirrors() {
        List<Thread> threads = new ArrayList<>(mirrors.size());
        for (Job m : mirrors) {
            threads.add(Thread.ofVirtual().name(m.id() + "-prepare-switchover").start(() -> engine.prepareSwitchover(m)));
        }
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt(); // the switchover goes on; the cancel is seen next
                return;
            }
        }
    }

    /**
     * With the vCPUs stopped: has every mirror finish without pivot (soft cancel of a READY
     * mirror, on the main loop) and returns once the engine accepted it; the mirrors drain on
     * their own threads. Migration's job thread.
     *
     * @throws MigrationException.JointSwitchoverFailed a mirror is not ready any more, or the main
     *                                                  loop refused; the caller resumes the vCPUs
     */
    public void completeMirrors() throws MigrationException {
        CompletableFuture<Void> done;
        try {
            done = CompletableFuture.runAsync(this::softCancelAll, mainLoop);
        } catch (RejectedExecutionException e) {
            throw new MigrationException.JointSwitchoverFailed("the daemon is shutting down", e);
        }
        try {
            done.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigrationException.Interrupted(e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw new MigrationException.JointSwitchoverFailed(c.getMessage() == null ? c.toString() : c.getMessage(), c);
        }
    }

    /** Main loop: re-checks (nothing can change in between) and soft-cancels every mirror. */
    private void softCancelAll() {
        Readiness r = assessNow();
        switch (r) {
            case Readiness.Ready ready -> { }
            case Readiness.NotYet n -> throw new IllegalStateException(n.reason());
            case Readiness.Broken b -> throw new IllegalStateException(b.reason());
        }
        for (Job m : mirrors) {
            engine.cancel(m.id(), false); // READY: finishes with a consistent copy, no pivot
        }
    }
}
