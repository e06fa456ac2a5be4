package dev.converge.job;

import static dev.converge.job.JobStatus.*;
import static dev.converge.job.TestDriver.Action.Kind.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.testing.TestTimeouts;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** One lifecycle state at a time, with the tiny test driver (as QEMU's test-blockjob.c). */
class JobLifecycleTest {
    private final Harness h = new Harness();
    private final TestDriver d = new TestDriver();

    @AfterEach
    void tearDown() throws InterruptedException {
        h.close();
    }

    private static JobOptions manual() {
        return JobOptions.defaults().withAutoFinalize(false).withAutoDismiss(false);
    }

    private void assertAbortedOnce(TestDriver drv) {
        assertThat(drv.abortCalls).hasValue(1);
        assertThat(drv.commitCalls).hasValue(0);
        assertThat(drv.cleanCalls).hasValue(1);
    }

    private void assertCommittedOnce(TestDriver drv) {
        assertThat(drv.commitCalls).hasValue(1);
        assertThat(drv.abortCalls).hasValue(0);
        assertThat(drv.cleanCalls).hasValue(1);
    }

    @Test
    void badAndDuplicateIdsAreRefused() {
        assertThatThrownBy(() -> h.create("1abc", d, JobOptions.defaults())).hasMessage("Invalid job ID '1abc'");
        assertThatThrownBy(() -> h.create("a b", d, JobOptions.defaults())).hasMessage("Invalid job ID 'a b'");
        assertThatThrownBy(() -> h.create("", d, JobOptions.defaults())).hasMessage("Invalid job ID ''");
        h.create("a-1.x_Y", d, JobOptions.defaults());
        assertThatThrownBy(() -> h.create("a-1.x_Y", new TestDriver(), JobOptions.defaults()))
                .isInstanceOf(JobException.class).hasMessage("Job ID 'a-1.x_Y' already in use");
        assertThatThrownBy(() -> h.create("s", d, JobOptions.defaults().withSpeed(-1)))
                .hasMessage("Parameter 'speed' expects a non-negative value");
        h.run(() -> h.engine.cancel("a-1.x_Y", true));
    }

    @Test
    void unknownJobIsNotFound() {
        assertThatThrownBy(() -> h.run(() -> h.engine.pause("nope"))).isInstanceOf(JobException.class)
                .hasMessage("Job not found").extracting(e -> ((JobException) e).kind())
                .isEqualTo(JobException.Kind.NOT_FOUND);
    }

    @Test
    void cancelInCreated() {
        Job j = h.create("j", d, JobOptions.defaults());
        h.run(() -> h.engine.cancel("j", false));
        assertThat(h.statuses("j")).containsExactly(CREATED, ABORTING, CONCLUDED, NULL);
        assertAbortedOnce(d);
        assertThat(j.wasStarted()).isFalse();
        assertThat(h.engine.find("j")).isEmpty();
        // start after cancel does nothing: the job is gone
        h.run(() -> h.engine.start(j));
        assertThat(j.status()).isEqualTo(NULL);
    }

    @Test
    void cancelInRunning() throws InterruptedException {
        Job j = h.started("j", d, JobOptions.defaults());
        h.run(() -> h.engine.cancel("j", false)); // default driver: every cancel is forced
        h.awaitStatus(j, NULL);
        assertThat(h.statuses("j")).containsExactly(CREATED, RUNNING, ABORTING, CONCLUDED, NULL);
        assertThat(j.error()).contains("Operation canceled");
        assertThat(j.isCancelled()).isTrue();
        assertAbortedOnce(d);
    }

    @Test
    void cancelInPaused() throws InterruptedException {
        Job j = h.started("j", d, manual());
        h.run(() -> h.engine.pause("j"));
        h.awaitStatus(j, PAUSED);
        assertThat(d.pauseCalls).hasValue(1);
        h.run(() -> h.engine.cancel("j", true));
        h.awaitStatus(j, CONCLUDED);
        assertThat(h.statuses("j")).containsExactly(CREATED, RUNNING, PAUSED, RUNNING, ABORTING, CONCLUDED);
        assertAbortedOnce(d);
        h.run(() -> h.engine.dismiss("j"));
        assertThat(j.status()).isEqualTo(NULL);
    }

    @Test
    void cancelInReady() throws InterruptedException {
        Job j = h.started("j", d, JobOptions.defaults());
        d.act(CONVERGE);
        assertThat(j.status()).isEqualTo(READY);
        h.run(() -> h.engine.cancel("j", false));
        h.awaitStatus(j, NULL);
        assertThat(h.statuses("j")).containsExactly(CREATED, RUNNING, READY, ABORTING, CONCLUDED, NULL);
        assertAbortedOnce(d);
    }

    @Test
    void cancelInStandby() throws InterruptedException {
        Job j = h.started("j", d, JobOptions.defaults());
        d.act(CONVERGE);
        h.run(() -> h.engine.pause("j"));
        h.awaitStatus(j, STANDBY);
        h.run(() -> h.engine.cancel("j", true));
        h.awaitStatus(j, NULL);
        assertThat(h.statuses("j")).containsExactly(CREATED, RUNNING, READY, STANDBY, READY, ABORTING, CONCLUDED,
                NULL);
        assertAbortedOnce(d);
    }

    @Test
    void cancelInPending() throws InterruptedException {
        Job j = h.started("j", d, manual());
        d.act(FINISH);
        h.awaitStatus(j, PENDING);
        assertThat(d.prepareCalls).hasValue(0);
        h.run(() -> h.engine.cancel("j", false));
        assertThat(j.status()).isEqualTo(CONCLUDED);
        assertThat(h.statuses("j")).containsExactly(CREATED, RUNNING, WAITING, PENDING, ABORTING, CONCLUDED);
        assertThat(j.error()).contains("Operation canceled");
        assertAbortedOnce(d);
        h.run(() -> h.engine.dismiss("j"));
    }

    @Test
    void cancelInConcludedIsRefused() throws InterruptedException {
        Job j = h.started("j", d, manual().withAutoFinalize(true));
        d.act(FINISH);
        h.awaitStatus(j, CONCLUDED);
        assertThatThrownBy(() -> h.run(() -> h.engine.cancel("j", false)))
                .hasMessage("Job 'j' in state 'concluded' cannot accept command verb 'cancel'");
        assertCommittedOnce(d);
        assertThat(j.error()).isEmpty();
        h.run(() -> h.engine.dismiss("j"));
        assertThat(h.statuses("j")).containsExactly(CREATED, RUNNING, WAITING, PENDING, CONCLUDED, NULL);
    }

    @Test
    void completeInStandbyTakesEffectOnResume() throws InterruptedException {
        Job j = h.started("j", d, JobOptions.defaults());
        d.act(CONVERGE);
        h.run(() -> h.engine.pause("j"));
        h.awaitStatus(j, STANDBY);
        h.run(() -> h.engine.complete("j"));
        assertThat(d.completeCalls).hasValue(1);
        // Still parked: the completion waits for the resume. The job thread is parked in its
        // checkpoint, so nothing can move it out of STANDBY until resume.
        assertThat(j.status()).isEqualTo(STANDBY);
        resumeAndAssertFinishedOnComplete(j);
    }

    /** Resumes a job parked in STANDBY with a complete accepted: it finishes as completed and commits. */
    private void resumeAndAssertFinishedOnComplete(Job j) throws InterruptedException {
        h.run(() -> h.engine.resume("j"));
        h.awaitStatus(j, NULL);
        assertThat(d.finishedOnComplete).isTrue();
        assertThat(h.statuses("j")).containsExactly(CREATED, RUNNING, READY, STANDBY, READY, WAITING, PENDING,
                CONCLUDED, NULL);
        assertCommittedOnce(d);
        assertThat(d.prepareCalls).hasValue(1);
    }

    /**
     * A complete that comes while the job is still READY but a pause is already asked (the job
     * has not reached its pause point) is accepted, as in QEMU; the pause still wins: the job
     * parks in STANDBY and finishes only on resume. (The property test once expected the job to
     * end at once here.)
     */
    @Test
    void completeAcceptedBeforeAPendingPauseTakesHoldWaitsForTheResume() throws InterruptedException {
        Job j = h.started("j", d, JobOptions.defaults());
        d.act(CONVERGE);
        CountDownLatch inPauseHook = new CountDownLatch(1);
        CountDownLatch leavePauseHook = new CountDownLatch(1);
        var lockCheck = d.hookProbe;
        d.hookProbe = hook -> {
            lockCheck.accept(hook);
            if (hook.equals("pause")) {
                inPauseHook.countDown();
                try {
                    leavePauseHook.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        h.run(() -> h.engine.pause("j"));
        assertThat(inPauseHook.await(TestTimeouts.SHORT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        assertThat(j.status()).as("the pause has not taken hold").isEqualTo(READY);
        h.run(() -> h.engine.complete("j"));
        leavePauseHook.countDown();
        h.awaitStatus(j, STANDBY);
        assertThat(d.finishedOnComplete).as("parked, not finished").isFalse();
        resumeAndAssertFinishedOnComplete(j);
    }

    @Test
    void completeIsRefusedWhenNotReadyOrUnsupported() throws InterruptedException {
        Job j = h.started("j", d, JobOptions.defaults());
        assertThatThrownBy(() -> h.run(() -> h.engine.complete("j")))
                .hasMessage("Job 'j' in state 'running' cannot accept command verb 'complete'");
        d.completable = false;
        d.act(CONVERGE);
        assertThatThrownBy(() -> h.run(() -> h.engine.complete("j")))
                .hasMessage("The active block job 'j' cannot be completed");
        assertThat(d.ctx.completeRequested()).isFalse();
        h.run(() -> h.engine.cancel("j", true));
        h.awaitStatus(j, NULL);
    }

    @Test
    void pauseAndResumeCount() throws InterruptedException {
        Job j = h.started("j", d, JobOptions.defaults());
        assertThatThrownBy(() -> h.run(() -> h.engine.resume("j")))
                .hasMessage("Can't resume a job that was not paused");
        h.run(() -> h.engine.pause("j"));
        assertThatThrownBy(() -> h.run(() -> h.engine.pause("j"))).hasMessage("Job is already paused");
        h.awaitStatus(j, PAUSED);
        h.run(() -> h.engine.pauseInternally(j));
        h.run(() -> h.engine.resume("j"));
        // the internal pause still holds it
        assertThat(j.status()).isEqualTo(PAUSED);
        assertThatThrownBy(() -> h.run(() -> h.engine.resume("j")))
                .hasMessage("Can't resume a job that was not paused");
        h.run(() -> h.engine.resumeInternally(j));
        h.awaitStatus(j, RUNNING);
        assertThat(d.pauseCalls).hasValue(1);
        await(() -> d.resumeCalls.get() == 1);
        assertThat(h.statuses("j")).containsExactly(CREATED, RUNNING, PAUSED, RUNNING);
        h.run(() -> h.engine.cancel("j", true));
        h.awaitStatus(j, NULL);
    }

    @Test
    void pauseInCreatedTakesEffectAtStart() throws InterruptedException {
        Job j = h.create("j", d, JobOptions.defaults());
        h.run(() -> h.engine.pause("j"));
        h.run(() -> h.engine.start(j));
        h.awaitStatus(j, PAUSED);
        assertThat(d.started.getCount()).as("run() not entered while paused").isEqualTo(1);
        h.run(() -> h.engine.resume("j"));
        assertThat(d.started.await(TestTimeouts.SHORT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        h.run(() -> h.engine.cancel("j", true));
        h.awaitStatus(j, NULL);
    }

    @Test
    void softCancelOfReadyJobFinishesWithoutError() throws InterruptedException {
        d.softCancelWhenReady = true;
        Job j = h.started("j", d, JobOptions.defaults());
        d.act(CONVERGE);
        h.run(() -> h.engine.cancel("j", false));
        h.awaitStatus(j, NULL);
        assertThat(d.finishedOnSoftCancel).isTrue();
        assertThat(j.isCancelled()).isFalse();
        assertThat(j.cancelRequested()).isTrue();
        assertThat(j.error()).isEmpty();
        assertCommittedOnce(d);
        assertThat(h.statuses("j")).containsExactly(CREATED, RUNNING, READY, WAITING, PENDING, CONCLUDED, NULL);
    }

    @Test
    void softCancelBeforeReadyIsForced() throws InterruptedException {
        d.softCancelWhenReady = true;
        Job j = h.started("j", d, JobOptions.defaults());
        h.run(() -> h.engine.cancel("j", false));
        h.awaitStatus(j, NULL);
        assertThat(j.isCancelled()).isTrue();
        assertAbortedOnce(d);
    }

    @Test
    void forceCancelOfReadyJobAborts() throws InterruptedException {
        d.softCancelWhenReady = true;
        Job j = h.started("j", d, JobOptions.defaults());
        d.act(CONVERGE);
        h.run(() -> h.engine.cancel("j", true));
        h.awaitStatus(j, NULL);
        assertThat(d.finishedOnSoftCancel).isFalse();
        assertAbortedOnce(d);
    }

    @Test
    void softCancelAfterRunEndedIsIgnored() throws InterruptedException {
        // QEMU: soft cancel requests are ignored once the job is done (deferred to the main loop).
        d.alwaysSoft = true;
        Job j = h.started("j", d, manual());
        d.act(FINISH);
        h.awaitStatus(j, PENDING);
        h.run(() -> h.engine.cancel("j", false));
        assertThat(j.status()).isEqualTo(PENDING);
        assertThat(j.cancelRequested()).isFalse();
        h.run(() -> h.engine.finalizeJob("j"));
        assertThat(j.status()).isEqualTo(CONCLUDED);
        assertCommittedOnce(d);
        h.run(() -> h.engine.dismiss("j"));
    }

    @Test
    void forceCancelAfterRunEndedAborts() throws InterruptedException {
        d.alwaysSoft = true;
        Job j = h.started("j", d, manual());
        d.act(FINISH);
        h.awaitStatus(j, PENDING);
        h.run(() -> h.engine.cancel("j", true));
        assertThat(j.status()).isEqualTo(CONCLUDED);
        assertAbortedOnce(d);
        h.run(() -> h.engine.dismiss("j"));
    }

    @Test
    void failureKeepsTheFirstErrorAndAborts() throws InterruptedException {
        Job j = h.started("j", d, manual());
        d.act(FAIL, 1);
        h.awaitStatus(j, CONCLUDED);
        assertThat(j.error()).contains("failure 1");
        assertThat(j.isCancelled()).isFalse();
        assertAbortedOnce(d);
        assertThat(h.statuses("j")).containsExactly(CREATED, RUNNING, ABORTING, CONCLUDED);
        assertThat(h.events()).filteredOn(e -> e.kind().equals("finalized")).hasSize(1);
        h.run(() -> h.engine.dismiss("j"));
    }

    @Test
    void progressAndInfo() throws InterruptedException {
        Job j = h.started("j", d, JobOptions.defaults());
        d.act(REMAINING, 100);
        d.act(PROGRESS, 30);
        JobInfo i = h.call(() -> h.engine.query(j));
        assertThat(i.currentProgress()).isEqualTo(30);
        assertThat(i.totalProgress()).isEqualTo(100);
        d.act(REMAINING, 200); // more dirty data: total grows
        d.act(PROGRESS, 500); // more than estimated: total follows current
        i = h.call(() -> h.engine.query(j));
        assertThat(i.currentProgress()).isEqualTo(530);
        assertThat(i.totalProgress()).isEqualTo(530);
        assertThat(i.driverInfo()).contains(new TestDriver.Info(0));
        assertThat(i.type()).isEqualTo("test");
        d.act(INFO);
        assertThat(h.events()).contains(new Harness.Event("info", "j", null));
        assertThatThrownBy(() -> d.ctx.progressDone(-1)).isInstanceOf(IllegalArgumentException.class);
        d.act(CONVERGE);
        assertThatThrownBy(() -> d.ctx.setReady()).as("second setReady").isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("setReady");
        h.run(() -> h.engine.cancel("j", true));
        h.awaitStatus(j, NULL);
    }

    @Test
    void setSpeedAndChange() throws InterruptedException {
        Job j = h.started("j", d, JobOptions.defaults());
        assertThatThrownBy(() -> h.run(() -> h.engine.setSpeed("j", -5)))
                .hasMessage("Parameter 'speed' expects a non-negative value");
        h.run(() -> h.engine.setSpeed("j", 1000));
        assertThat(j.speed()).isEqualTo(1000);
        assertThat(d.speedCalls).as("the starting speed at creation, then the change").hasValue(2);
        h.run(() -> h.engine.change("j", new TestDriver.Change(OptionalLong.of(3))));
        assertThat(d.lastChange.level()).hasValue(3);
        assertThatThrownBy(() -> h.run(() -> h.engine.change("j", new TestDriver.Change(OptionalLong.of(-1)))))
                .hasMessage("Parameter 'level' expects a non-negative integer");
        assertThatThrownBy(() -> h.run(() -> h.engine.change("j", new Other())))
                .as("options of another kind: a caller bug").isInstanceOf(IllegalArgumentException.class);
        h.run(() -> h.engine.cancel("j", true));
        h.awaitStatus(j, NULL);
    }

    @Test
    void changeUnsupportedByDefault() {
        h.call(() -> h.engine.create("j", JobKind.plain("plain"), ctx -> { }, JobOptions.defaults()));
        assertThatThrownBy(() -> h.run(() -> h.engine.change("j", null)))
                .hasMessage("Job type does not support change");
        h.run(() -> h.engine.cancel("j", true));
    }

    /** A driver that does one long sleep or rate-limited chunk and reports how it ended. */
    /** Options of no kind of this test. */
    private record Other() {
    }

    private static final class SleepyDriver implements JobDriver<Record, Record> {
        final CountDownLatch inSleep = new CountDownLatch(1);
        final AtomicReference<String> outcome = new AtomicReference<>();
        final boolean rateLimited;
        volatile JobContext ctx;

        SleepyDriver(boolean rateLimited) {
            this.rateLimited = rateLimited;
        }

        @Override
        public void run(JobContext ctx) {
            this.ctx = ctx;
            inSleep.countDown();
            try {
                if (rateLimited) {
                    ctx.rateLimit(1L << 30); // at 1 B/s: decades
                } else {
                    ctx.sleep(TestTimeouts.LONG.multipliedBy(10));
                }
                outcome.set("returned");
            } catch (JobCancelledException e) {
                outcome.set("cancelled");
                throw e;
            }
        }

        @Override
        public void complete() {
        }
    }

    private Job startSleepy(SleepyDriver s, JobOptions o) throws InterruptedException {
        Job j = h.call(() -> h.engine.create("z", JobKind.plain("test"), s, o));
        h.run(() -> h.engine.start(j));
        assertThat(s.inSleep.await(TestTimeouts.SHORT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        return j;
    }

    @Test
    void sleepWakesEarlyOnCancel() throws InterruptedException {
        SleepyDriver s = new SleepyDriver(false);
        Job j = startSleepy(s, JobOptions.defaults());
        h.run(() -> h.engine.cancel("z", true));
        h.awaitStatus(j, NULL); // within SHORT, far less than the sleep
        assertThat(s.outcome).hasValue("cancelled");
    }

    @Test
    void sleepWakesEarlyOnPauseAndParks() throws InterruptedException {
        SleepyDriver s = new SleepyDriver(false);
        Job j = startSleepy(s, JobOptions.defaults());
        h.run(() -> h.engine.pause("z"));
        h.awaitStatus(j, PAUSED);
        h.run(() -> h.engine.resume("z"));
        h.awaitStatus(j, NULL); // the sleep ended early; run() returned
        assertThat(s.outcome).hasValue("returned");
    }

    @Test
    void sleepWakesEarlyOnWake() throws InterruptedException {
        SleepyDriver s = new SleepyDriver(false);
        Job j = startSleepy(s, JobOptions.defaults());
        s.ctx.wake(); // from the test thread, as an I/O completion would
        h.awaitStatus(j, NULL);
        assertThat(s.outcome).hasValue("returned");
    }

    @Test
    void completeWakesTheSleepingJob() throws InterruptedException {
        Job j = h.started("j", d, JobOptions.defaults());
        d.act(CONVERGE);
        h.run(() -> h.engine.complete("j")); // the driver sleeps LONG; complete must wake it
        h.awaitStatus(j, NULL);
        assertThat(d.finishedOnComplete).isTrue();
        assertCommittedOnce(d);
    }

    @Test
    void rateLimitSleepWakesWhenSpeedIsLifted() throws InterruptedException {
        SleepyDriver s = new SleepyDriver(true);
        Job j = startSleepy(s, JobOptions.defaults().withSpeed(1));
        h.run(() -> h.engine.setSpeed("z", 0));
        h.awaitStatus(j, NULL);
        assertThat(s.outcome).hasValue("returned");
    }

    @Test
    void rateLimitSleepWakesOnPauseAndCancel() throws InterruptedException {
        SleepyDriver s = new SleepyDriver(true);
        Job j = startSleepy(s, JobOptions.defaults().withSpeed(1));
        h.run(() -> h.engine.pause("z"));
        h.awaitStatus(j, PAUSED);
        h.run(() -> h.engine.cancel("z", true));
        h.awaitStatus(j, NULL);
        assertThat(s.outcome).hasValue("cancelled");
    }

    @Test
    void rateLimitedJobKeepsItsSpeed() throws InterruptedException {
        // 3 chunks of 1000 bytes at 10000 B/s: the first passes within the slice, the rest wait
        // about 100 ms each; we assert only a lower bound that cannot flake.
        CountDownLatch done = new CountDownLatch(1);
        long[] elapsed = new long[1];
        Job j = h.call(() -> h.engine.create("r", JobKind.plain("test"), ctx -> {
            long t0 = System.nanoTime();
            for (int i = 0; i < 3; i++) {
                ctx.rateLimit(1000);
            }
            elapsed[0] = System.nanoTime() - t0;
            done.countDown();
        }, JobOptions.defaults().withSpeed(10_000)));
        h.run(() -> h.engine.start(j));
        assertThat(done.await(TestTimeouts.SHORT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        assertThat(Duration.ofNanos(elapsed[0])).isGreaterThanOrEqualTo(Duration.ofMillis(190));
        h.awaitStatus(j, NULL);
    }

    @Test
    void listsJobsInCreationOrder() {
        for (String id : List.of("c", "a", "b")) {
            h.create(id, new TestDriver(), JobOptions.defaults());
        }
        assertThat(h.engine.jobs()).extracting(Job::id).containsExactly("c", "a", "b");
        assertThat(h.<List<JobInfo>>call(() -> h.engine.query())).extracting(JobInfo::id).containsExactly("c", "a", "b");
        for (String id : List.of("c", "a", "b")) {
            h.run(() -> h.engine.cancel(id, true));
        }
        assertThat(h.engine.jobs()).isEmpty();
    }

    private static void await(java.util.concurrent.Callable<Boolean> c) {
        org.awaitility.Awaitility.await().atMost(TestTimeouts.SHORT).until(c);
    }
}
