package dev.converge.job;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * A switchover that one job, the <em>leader</em>, makes for its whole transaction: the other
 * jobs of the transaction whose driver is a {@link SwitchoverParticipant} (the
 * <em>participants</em>) finish at the leader's switchover, in place, not at their user's
 * job-complete. The engine's part of the joint switchover of a migration with the mirrors of
 * its machine's disks; made by {@link JobEngine#leadSwitchover}.
 *
 * <h2>Sequence</h2>
 * <ol>
 * <li>Until the switchover every job runs on its own; the participants go READY when in sync.</li>
 * <li>The switchover is the leader's ({@code job-complete} on it, or its own decision). Policy:
 *     {@link #assess}; the leader's job-complete is refused unless every participant is ready
 *     ({@link #checkComplete}), and the engine refuses the user's job-complete of a participant
 *     ("Job 'M' is completed by the switchover of job 'L' of its transaction").</li>
 * <li>Just before the guest stops, {@link #prepare} has every participant prepare at once
 *     ({@link SwitchoverParticipant#prepareSwitchover}).</li>
 * <li>With the guest stopped, {@link #finishInPlace} re-checks on the main loop and has every
 *     participant finish in place ({@link SwitchoverParticipant#finishInPlace}).</li>
 * <li>The engine keeps the jobs WAITING until the last one ended, then finalizes them together
 *     (or aborts all if one failed).</li>
 * </ol>
 *
 * <h2>Threads</h2>
 * Made on the main loop before the leader starts; the participants are fixed then.
 * {@link #checkComplete} runs on the main loop; {@link #readiness}, {@link #prepare} and
 * {@link #finishInPlace} on the leader's thread, the last handing its work to the main loop
 * and waiting for it. Job statuses are read with {@link Job#status()} (volatile).
 */
public final class GroupedSwitchover {
    private final Executor mainLoop;
    private final Job leader;
    private final List<Job> participants;

    GroupedSwitchover(Executor mainLoop, Job leader, List<Job> participants) {
        this.mainLoop = Objects.requireNonNull(mainLoop);
        this.leader = Objects.requireNonNull(leader);
        this.participants = List.copyOf(participants);
    }

    /** The leader. */
    public Job leader() {
        return leader;
    }

    /** The participants, in creation order. */
    public List<Job> participants() {
        return participants;
    }

    // ---------------------------------------------------------------- policy

    /** What the policy sees of one participant. */
    public record ParticipantState(String id, String type, JobStatus status, boolean cancelRequested) {
        static ParticipantState of(Job j) {
            return new ParticipantState(j.id(), j.type(), j.status(), j.cancelRequested());
        }
    }

    /** Whether the switchover may happen now. */
    public sealed interface Readiness {
        /** Every participant is in sync and still following. */
        record Ready() implements Readiness {
        }

        /** A participant is still working toward READY (or paused before it): wait, or refuse a job-complete. */
        record NotYet(String reason) implements Readiness {
        }

        /** A participant ended or is ending before the switchover: the switchover can never happen. */
        record Broken(String reason) implements Readiness {
        }
    }

    /**
     * The readiness policy, a pure function: Ready when every participant is READY or STANDBY (a
     * paused one is still in sync; the switchover resumes it) and no cancel was asked of it;
     * NotYet naming the first one still working; Broken naming the first that ended or is being
     * cancelled. Broken wins over NotYet. Reasons name a participant as "TYPE job 'ID'".
     */
    public static Readiness assess(List<ParticipantState> participants) {
        Readiness verdict = new Readiness.Ready();
        for (ParticipantState p : participants) {
            String who = p.type() + " job '" + p.id() + "'";
            switch (p.status()) {
                case READY, STANDBY -> {
                    if (p.cancelRequested()) {
                        return new Readiness.Broken(who + " was cancelled before the joint switchover");
                    }
                }
                case UNDEFINED, CREATED, RUNNING, PAUSED -> {
                    if (verdict instanceof Readiness.Ready) {
                        verdict = new Readiness.NotYet(who + " is not ready (status " + p.status().wireName()
                                + "): the joint switchover needs every " + p.type() + " in sync");
                    }
                }
                case WAITING, PENDING, ABORTING, CONCLUDED, NULL -> {
                    return new Readiness.Broken(who + " ended before the joint switchover (status "
                            + p.status().wireName() + "): its target no longer follows the source");
                }
            }
        }
        return verdict;
    }

    /** The policy's verdict now. Any thread. */
    public Readiness readiness() {
        List<ParticipantState> states = new ArrayList<>(participants.size());
        for (Job j : participants) {
            states.add(ParticipantState.of(j));
        }
        return assess(states);
    }

    // ---------------------------------------------------------------- mechanism

    /**
     * The leader's job-complete: refuses unless every participant is ready. Main loop.
     *
     * @throws JobException "Cannot switch over 'ID': mirror job 'M' is not ready ..." (or ended)
     */
    public void checkComplete() {
        switch (readiness()) {
            case Readiness.Ready ready -> { }
            case Readiness.NotYet n -> throw JobException.generic("Cannot switch over '" + leader.id() + "': " + n.reason());
            case Readiness.Broken b -> throw JobException.generic("Cannot switch over '" + leader.id() + "': " + b.reason());
        }
    }

    /**
     * Just before the guest stops: every participant prepares
     * ({@link SwitchoverParticipant#prepareSwitchover}), all at once, and this returns when all
     * are done. Best effort: nothing here fails the switchover. Leader's thread.
     */
    public void prepare() {
        List<Thread> threads = new ArrayList<>(participants.size());
        for (Job p : participants) {
            SwitchoverParticipant sp = (SwitchoverParticipant) p.driver();
            threads.add(Thread.ofVirtual().name(p.id() + "-prepare-switchover").start(sp::prepareSwitchover));
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

    /** The switchover cannot happen: a participant is not ready any more, or the main loop is gone. */
    public static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        Refused(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * With the guest stopped: on the main loop, re-checks (no verb can run in between) and has
     * every participant finish in place; returns once all were told. The participants then
     * drain on their own threads. Leader's thread.
     *
     * @throws Refused              a participant is not ready any more, or the main loop refused;
     *                              the caller resumes the guest
     * @throws InterruptedException while waiting for the main loop
     */
    public void finishInPlace() throws Refused, InterruptedException {
        CompletableFuture<Void> done;
        try {
            done = CompletableFuture.runAsync(this::finishAllInPlace, mainLoop);
        } catch (RejectedExecutionException e) {
            throw new Refused("the daemon is shutting down", e);
        }
        try {
            done.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw new Refused(c.getMessage() == null ? c.toString() : c.getMessage(), c);
        }
    }

    /** Main loop: re-checks and tells every participant to finish in place. */
    private void finishAllInPlace() {
        switch (readiness()) {
            case Readiness.Ready ready -> { }
            case Readiness.NotYet n -> throw new IllegalStateException(n.reason());
            case Readiness.Broken b -> throw new IllegalStateException(b.reason());
        }
        for (Job p : participants) {
            ((SwitchoverParticipant) p.driver()).finishInPlace();
        }
    }
}
