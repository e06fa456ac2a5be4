package dev.converge.job;

import static dev.converge.job.JobStatus.*;
import static dev.converge.job.TestDriver.Action.Kind.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * The lock contract: no driver hook and no listener runs while the job lock is held. Every
 * {@link Harness} checks it in every hook of its {@link TestDriver}s and in its listener (and
 * fails at close otherwise), so every lifecycle test checks it too; this test walks every path
 * once more on purpose, with a listener that reads the engine as the mirror's QMP binding does
 * ({@code engine.query} from ready and finalized, which calls the driver's info hook).
 */
class LockContractTest {
    @Test
    void noHookAndNoListenerRunsUnderTheJobLock() throws Exception {
        try (Harness h = new Harness()) {
            List<JobInfo> seenByListener = new CopyOnWriteArrayList<>();
            h.engine.addListener(new JobListener() {
                @Override
                public void statusChanged(Job job, JobStatus s) {
                    h.checkNotUnderLock("query listener status");
                }

                @Override
                public void ready(Job job) {
                    seenByListener.add(h.engine.query(job));
                }

                @Override
                public void finalized(Job job) {
                    seenByListener.add(h.engine.query(job));
                }
            });
            JobOptions manual = JobOptions.defaults().withAutoFinalize(false).withAutoDismiss(false);

            // ready, pause (standby), resume, change, speed, info, complete, manual finalize and dismiss
            TestDriver completed = new TestDriver();
            Job c = h.started("completed", completed, manual);
            completed.act(CONVERGE);
            h.run(() -> h.engine.pause("completed"));
            h.awaitStatus(c, STANDBY);
            h.run(() -> h.engine.resume("completed"));
            h.awaitStatus(c, READY);
            h.run(() -> h.engine.change("completed", new TestDriver.Change(java.util.OptionalLong.of(1))));
            h.run(() -> h.engine.setSpeed("completed", 1 << 20));
            completed.act(INFO);
            h.run(() -> h.engine.complete("completed"));
            h.awaitStatus(c, PENDING);
            h.run(() -> h.engine.finalizeJob("completed"));
            h.run(() -> h.engine.dismiss("completed"));

            // cancel before start, soft cancel of a ready job, failure, and a transaction whose prepare fails
            TestDriver unstarted = new TestDriver();
            h.create("unstarted", unstarted, JobOptions.defaults());
            h.run(() -> h.engine.cancel("unstarted", true));
            TestDriver soft = new TestDriver();
            soft.softCancelWhenReady = true;
            Job s = h.started("soft", soft, JobOptions.defaults());
            soft.act(CONVERGE);
            h.run(() -> h.engine.cancel("soft", false));
            h.awaitStatus(s, NULL);
            TestDriver failing = new TestDriver();
            Job f = h.started("failing", failing, JobOptions.defaults());
            failing.act(FAIL, 1);
            h.awaitStatus(f, NULL);
            JobTxn txn = new JobTxn();
            TestDriver a = new TestDriver();
            TestDriver b = new TestDriver();
            b.prepareFailure = new IOException("no");
            Job ja = h.started("a", a, JobOptions.defaults().withTxn(txn));
            Job jb = h.started("b", b, JobOptions.defaults().withTxn(txn));
            a.act(FINISH);
            b.act(FINISH);
            h.awaitStatus(ja, NULL);
            h.awaitStatus(jb, NULL);

            assertThat(List.of(completed, unstarted, soft, failing, a, b)).allSatisfy(d -> {
                assertThat(d.cleanCalls).hasValue(1);
            });
            assertThat(completed.pauseCalls).hasValue(1);
            assertThat(b.prepareCalls).hasValue(1);
            assertThat(seenByListener).extracting(JobInfo::id)
                    .contains("completed", "soft", "failing", "a", "b");
            assertThat(h.lockChecks.get()).as("hooks and listener calls checked").isGreaterThan(50);
            assertThat(h.lockViolation()).isEmpty();
        }
    }

    @Test
    void holdsJobLockIsFalseOutsideTheEngine() {
        try (Harness h = new Harness()) {
            assertThat(h.engine.holdsJobLock()).isFalse();
            assertThat(h.call(h.engine::holdsJobLock)).isFalse();
        }
    }
}
