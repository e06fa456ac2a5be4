package dev.converge.job;

import static dev.converge.job.JobStatus.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;
import org.awaitility.core.ConditionTimeoutException;

/**
 * Random sequences of verbs and driver outcomes, on transactions of 1–3 jobs, checked against
 * the tables: no transition outside the table, verbs refused exactly as the table says,
 * progress never decreases, the first error is kept, one event per change in order, each
 * transaction all-commit or all-abort with clean once per job, every job thread ends.
 */
class JobEngineProperties {
    enum Op { START, PAUSE, RESUME, CANCEL, FORCE_CANCEL, COMPLETE, FINALIZE, DISMISS, SET_SPEED, CONVERGE,
        PROGRESS, FINISH, FAIL }

    record JobSpec(boolean autoFinalize, boolean autoDismiss, boolean softCancel, boolean prepareFails) {
    }

    record Step(int job, Op op, long n) {
    }

    /** @param endWell whether the test tries to finish the jobs successfully before cancelling leftovers */
    record Scenario(List<JobSpec> jobs, List<Step> steps, boolean endWell) {
    }

    private static final Set<JobStatus> ALIVE = EnumSet.of(RUNNING, PAUSED, READY, STANDBY);

    @Provide
    Arbitrary<Scenario> scenarios() {
        Arbitrary<JobSpec> spec = Combinators.combine(Arbitraries.of(true, false), Arbitraries.of(true, false),
                Arbitraries.of(true, false), Arbitraries.integers().between(0, 9).map(i -> i == 0))
                .as(JobSpec::new);
        return spec.list().ofMinSize(1).ofMaxSize(3).flatMap(jobs -> {
            Arbitrary<Step> step = Combinators.combine(Arbitraries.integers().between(0, jobs.size() - 1),
                    Arbitraries.of(Op.class), Arbitraries.longs().between(0, 1000)).as(Step::new);
            return Combinators.combine(step.list().ofMaxSize(25), Arbitraries.of(true, false))
                    .as((steps, endWell) -> new Scenario(jobs, steps, endWell));
        });
    }

    /** What the test knows about one job beyond the engine's own state. */
    private static final class Tracked {
        final String id;
        final JobSpec spec;
        final TestDriver driver = new TestDriver();
        Job job;
        boolean started;
        boolean userPaused;
        boolean endRequested;
        long lastCurrent;
        Optional<String> firstError = Optional.empty();

        Tracked(String id, JobSpec spec) {
            this.id = id;
            this.spec = spec;
            driver.softCancelWhenReady = spec.softCancel();
            if (spec.prepareFails()) {
                driver.prepareFailure = new IOException("prepare of " + id + " failed");
            }
        }
    }

    @Property(tries = 200)
    void randomSequencesFollowTheTables(@ForAll("scenarios") Scenario sc) throws Exception {
        try (Harness h = new Harness()) {
            JobTxn txn = new JobTxn();
            List<Tracked> jobs = new ArrayList<>();
            for (int i = 0; i < sc.jobs().size(); i++) {
                Tracked t = new Tracked("job" + i, sc.jobs().get(i));
                JobOptions o = new JobOptions(t.spec.autoFinalize(), t.spec.autoDismiss(), txn, 0);
                t.job = h.create(t.id, t.driver, o);
                jobs.add(t);
            }
            for (Step s : sc.steps()) {
                apply(h, jobs.get(s.job()), s);
                settle(h, jobs);
                checkSnapshots(h, jobs);
            }
            if (sc.endWell()) {
                endWell(h, jobs);
            }
            finish(h, jobs);
            checkEvents(h, jobs);
            checkTransaction(jobs);
        } // close() asserts that every job thread ended
    }

    private void apply(Harness h, Tracked t, Step s) throws InterruptedException {
        JobStatus before = t.job.status();
        boolean canAct = t.started && !t.userPaused && !t.endRequested && !t.job.cancelRequested()
                && (before == RUNNING || before == READY);
        switch (s.op()) {
            case START -> {
                if (!t.started && before == CREATED) {
                    h.run(() -> h.engine.start(t.job));
                    t.started = t.job.wasStarted();
                    if (t.started && !t.userPaused) { // paused in CREATED: run() waits for the resume
                        assertThat(t.driver.started.await(TestTimeouts.SHORT.toMillis(),
                                java.util.concurrent.TimeUnit.MILLISECONDS)).isTrue();
                    }
                }
            }
            case CONVERGE -> {
                if (canAct && before == RUNNING) {
                    t.driver.act(TestDriver.Action.Kind.CONVERGE);
                }
            }
            case PROGRESS -> {
                if (canAct) {
                    t.driver.act(TestDriver.Action.Kind.PROGRESS, s.n());
                    t.driver.act(TestDriver.Action.Kind.REMAINING, s.n() / 2);
                }
            }
            case FINISH, FAIL -> {
                if (canAct) {
                    t.endRequested = true;
                    t.driver.act(s.op() == Op.FINISH ? TestDriver.Action.Kind.FINISH : TestDriver.Action.Kind.FAIL,
                            s.n());
                }
            }
            case PAUSE -> verb(h, t, JobVerb.PAUSE, before, () -> h.engine.pause(t.id), () -> t.userPaused = true);
            case RESUME -> verb(h, t, JobVerb.RESUME, before, () -> h.engine.resume(t.id), () -> t.userPaused = false);
            case CANCEL, FORCE_CANCEL -> verb(h, t, JobVerb.CANCEL, before,
                    () -> h.engine.cancel(t.id, s.op() == Op.FORCE_CANCEL), () -> t.userPaused = false);
            case COMPLETE -> verb(h, t, JobVerb.COMPLETE, before, () -> h.engine.complete(t.id),
                    () -> t.endRequested = true);
            case FINALIZE -> verb(h, t, JobVerb.FINALIZE, before, () -> h.engine.finalizeJob(t.id), () -> { });
            case DISMISS -> verb(h, t, JobVerb.DISMISS, before, () -> h.engine.dismiss(t.id), () -> { });
            case SET_SPEED -> verb(h, t, JobVerb.SET_SPEED, before, () -> h.engine.setSpeed(t.id, s.n()), () -> { });
        }
    }

    /** Applies a verb and checks it was refused exactly as the verb table says. */
    private void verb(Harness h, Tracked t, JobVerb verb, JobStatus before, Runnable call, Runnable onAccepted) {
        String refusal = JobTables.refusal(t.id, before, verb);
        JobException error = null;
        try {
            h.run(call);
        } catch (JobException e) {
            error = e;
        }
        if (before == NULL) {
            assertThat(error).as("verb on a dismissed job").isNotNull();
            assertThat(error.kind()).isEqualTo(JobException.Kind.NOT_FOUND);
            return;
        }
        if (!JobTables.accepts(verb, before)) {
            assertThat(error).as(verb + " in " + before).isNotNull();
            // QEMU checks "paused by the user" before the verb; the test's idea of that may be stale,
            // because a transaction abort also undoes a user pause.
            if (verb == JobVerb.RESUME) {
                assertThat(error.getMessage()).isIn(refusal, "Can't resume a job that was not paused");
            } else {
                assertThat(error.getMessage()).isEqualTo(refusal);
            }
        } else {
            if (error != null) {
                assertThat(error.getMessage()).as(verb + " in " + before).isNotEqualTo(refusal);
            } else {
                onAccepted.run();
            }
            if (error != null && verb == JobVerb.RESUME) {
                t.userPaused = false;
            }
        }
    }

    /** Waits until every job is {@linkplain #settled settled}, then until the main loop is idle. */
    private void settle(Harness h, List<Tracked> jobs) {
        try {
            await().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(1)).atMost(TestTimeouts.SHORT)
                    .until(() -> jobs.stream().allMatch(JobEngineProperties::settled));
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("jobs did not settle: " + jobs.stream().map(JobEngineProperties::describe).toList()
                    + "; events " + jobs.stream().map(t -> h.statuses(t.id)).toList(), e);
        }
        h.drainMainLoop();
    }

    /**
     * Whether a job is where the test's next step may look at it: a job asked to pause has parked
     * (the pause wins over an end asked meanwhile, e.g. a complete accepted in READY just before
     * the pause took hold); a job no longer asked to pause has left its pause point (the next
     * verb's refusal names the status it meets); and a job asked to end, and not paused, has
     * left the live statuses.
     */
    private static boolean settled(Tracked t) {
        if (!t.started) {
            return true;
        }
        Job j = t.job;
        JobStatus status;
        boolean parking;
        j.lock.lock();
        try {
            status = j.status();
            parking = j.shouldPauseLocked() && !j.isCancelledLocked() && !j.runEnded;
        } finally {
            j.lock.unlock();
        }
        if (parking) {
            return status != RUNNING && status != READY;
        }
        if (status == PAUSED || status == STANDBY) {
            return false; // resumed (or force-cancelled): the job thread is about to leave its pause point
        }
        boolean ending = t.endRequested || t.job.isCancelled() || t.job.cancelRequested() && t.spec.softCancel();
        return !(ending && ALIVE.contains(status));
    }

    private static String describe(Tracked t) {
        Job j = t.job;
        j.lock.lock();
        try {
            return t.id + "[" + j.status() + ", pauses " + j.pauseCount + ", user paused " + j.userPaused
                    + ", cancelled " + j.cancelled + "/" + j.forceCancel + ", complete " + j.completeRequested
                    + ", run ended " + j.runEnded + "; test: end requested " + t.endRequested + "]";
        } finally {
            j.lock.unlock();
        }
    }

    private void checkSnapshots(Harness h, List<Tracked> jobs) {
        for (Tracked t : jobs) {
            if (t.job.status() == NULL) {
                continue;
            }
            JobInfo i = h.call(() -> h.engine.query(t.job));
            assertThat(i.currentProgress()).as("current progress only grows").isGreaterThanOrEqualTo(t.lastCurrent);
            assertThat(i.totalProgress()).isGreaterThanOrEqualTo(i.currentProgress());
            t.lastCurrent = i.currentProgress();
            if (t.firstError.isPresent()) {
                assertThat(i.error()).as("the first error is kept").isEqualTo(t.firstError);
            }
            t.firstError = i.error();
        }
    }

    /** Lets every job that still can succeed finish, and finalizes pending ones. */
    private void endWell(Harness h, List<Tracked> jobs) throws InterruptedException {
        for (Tracked t : jobs) {
            if (t.job.status() == CREATED && !t.started) {
                apply(h, t, new Step(0, Op.START, 0));
            }
            if (t.userPaused) {
                apply(h, t, new Step(0, Op.RESUME, 0));
            }
            settle(h, jobs);
            apply(h, t, new Step(0, Op.FINISH, 0));
            settle(h, jobs);
        }
        for (Tracked t : jobs) {
            if (t.job.status() == PENDING) {
                apply(h, t, new Step(0, Op.FINALIZE, 0));
                settle(h, jobs);
            }
        }
    }

    /** Ends every job: cancel what can be cancelled, then finalize and dismiss. */
    private void finish(Harness h, List<Tracked> jobs) {
        for (int round = 0; round < 10; round++) {
            boolean allGone = true;
            for (Tracked t : jobs) {
                JobStatus s = t.job.status();
                if (s == NULL) {
                    continue;
                }
                allGone = false;
                try {
                    if (s == CONCLUDED) {
                        h.run(() -> h.engine.dismiss(t.id));
                    } else if (JobTables.accepts(JobVerb.CANCEL, s)) {
                        h.run(() -> h.engine.cancel(t.id, true));
                    }
                } catch (JobException e) {
                    // raced with a status change: the next round sees the new status
                }
                settle(h, jobs);
            }
            if (allGone) {
                return;
            }
        }
        for (Tracked t : jobs) {
            assertThat(t.job.status()).as(t.id + " ends").isEqualTo(NULL);
        }
    }

    private void checkEvents(Harness h, List<Tracked> jobs) {
        for (Tracked t : jobs) {
            List<JobStatus> seq = h.statuses(t.id);
            assertThat(seq).first().isEqualTo(CREATED);
            JobStatus prev = UNDEFINED;
            for (JobStatus s : seq) {
                assertThat(JobTables.canTransition(prev, s)).as(t.id + ": " + prev + " -> " + s + " in " + seq)
                        .isTrue();
                assertThat(s).as("one event per change").isNotEqualTo(prev);
                prev = s;
            }
            assertThat(prev).isEqualTo(NULL);
            long finalized = h.events().stream().filter(e -> e.kind().equals("finalized") && e.id().equals(t.id))
                    .count();
            assertThat(finalized).isEqualTo(1);
        }
    }

    private void checkTransaction(List<Tracked> jobs) {
        boolean committed = jobs.get(0).driver.commitCalls.get() == 1;
        Statistics.label("outcome").collect(committed ? "commit" : "abort", jobs.size() + " jobs");
        for (Tracked t : jobs) {
            TestDriver d = t.driver;
            assertThat(d.cleanCalls).as(t.id + " clean").hasValue(1);
            assertThat(d.commitCalls.get() + d.abortCalls.get()).as(t.id + " commit xor abort").isEqualTo(1);
            assertThat(d.commitCalls.get() == 1).as("all-commit or all-abort").isEqualTo(committed);
            assertThat(d.prepareCalls.get()).isLessThanOrEqualTo(1);
            if (committed) {
                assertThat(t.firstError).isEmpty();
                assertThat(d.prepareCalls).hasValue(1);
            } else {
                assertThat(t.job.error()).as(t.id + " error").isPresent();
            }
        }
    }
}
