package dev.converge.job;

import static dev.converge.job.JobStatus.*;
import static dev.converge.job.TestDriver.Action.Kind.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Transactions: all commit or all abort (QEMU job_completed_txn_success / _abort). */
class JobTxnTest {
    private final Harness h = new Harness();
    private final TestDriver da = new TestDriver();
    private final TestDriver db = new TestDriver();
    private final JobTxn txn = new JobTxn();

    @AfterEach
    void tearDown() throws InterruptedException {
        h.close();
    }

    private JobOptions inTxn() {
        return JobOptions.defaults().withTxn(txn).withAutoDismiss(false);
    }

    @Test
    void firstToEndWaitsForTheOthersThenAllCommit() throws InterruptedException {
        Job a = h.started("a", da, inTxn());
        Job b = h.started("b", db, inTxn());
        da.act(FINISH);
        h.awaitStatus(a, WAITING);
        h.drainMainLoop();
        assertThat(a.status()).isEqualTo(WAITING);
        assertThat(da.prepareCalls).hasValue(0);
        db.act(FINISH);
        h.awaitStatus(b, CONCLUDED);
        assertThat(a.status()).isEqualTo(CONCLUDED);
        for (TestDriver d : new TestDriver[] {da, db}) {
            assertThat(d.prepareCalls).hasValue(1);
            assertThat(d.commitCalls).hasValue(1);
            assertThat(d.abortCalls).hasValue(0);
            assertThat(d.cleanCalls).hasValue(1);
        }
        assertThat(h.statuses("a")).containsExactly(CREATED, RUNNING, WAITING, PENDING, CONCLUDED);
        // both went pending before either concluded
        var order = h.events().stream().filter(e -> e.kind().equals("status"))
                .map(e -> e.id() + ":" + e.status().wireName()).toList();
        assertThat(order.indexOf("b:pending")).isLessThan(order.indexOf("a:concluded"));
        h.run(() -> h.engine.dismiss("a"));
        h.run(() -> h.engine.dismiss("b"));
    }

    @Test
    void oneFailureCancelsAndAbortsTheOthers() throws InterruptedException {
        Job a = h.started("a", da, inTxn());
        Job b = h.started("b", db, inTxn());
        TestDriver dc = new TestDriver();
        Job c = h.started("c", dc, inTxn());
        dc.act(FINISH);
        h.awaitStatus(c, WAITING);
        da.act(FAIL, 7);
        h.awaitStatus(b, CONCLUDED);
        h.awaitStatus(a, CONCLUDED);
        h.awaitStatus(c, CONCLUDED);
        assertThat(a.error()).contains("failure 7");
        assertThat(b.error()).contains("Transaction aborted because job 'a' failed");
        assertThat(c.error()).contains("Transaction aborted because job 'a' failed");
        assertThat(b.isCancelled()).isTrue();
        for (TestDriver d : new TestDriver[] {da, db, dc}) {
            assertThat(d.commitCalls).hasValue(0);
            assertThat(d.abortCalls).hasValue(1);
            assertThat(d.cleanCalls).hasValue(1);
            assertThat(d.prepareCalls).hasValue(0);
        }
        assertThat(db.cancelCalls).as("driver cancel hook of the victim").hasValue(1);
        assertThat(h.statuses("c")).containsExactly(CREATED, RUNNING, WAITING, ABORTING, CONCLUDED);
        for (String id : new String[] {"a", "b", "c"}) {
            h.run(() -> h.engine.dismiss(id));
        }
    }

    @Test
    void cancelOfAWaitingJobAbortsTheTransaction() throws InterruptedException {
        Job a = h.started("a", da, inTxn());
        Job b = h.started("b", db, inTxn());
        da.act(FINISH);
        h.awaitStatus(a, WAITING);
        h.run(() -> h.engine.cancel("a", false));
        // (b may already have ended and both concluded by now: no assertion on a's status here)
        h.awaitStatus(b, CONCLUDED);
        assertThat(a.status()).isEqualTo(CONCLUDED);
        assertThat(a.error()).contains("Operation canceled");
        assertThat(b.error()).contains("Transaction aborted because job 'a' was cancelled");
        assertThat(h.statuses("a")).containsExactly(CREATED, RUNNING, WAITING, ABORTING, CONCLUDED);
        assertThat(h.statuses("b")).containsExactly(CREATED, RUNNING, ABORTING, CONCLUDED);
        assertThat(da.abortCalls).hasValue(1);
        assertThat(db.abortCalls).hasValue(1);
        h.run(() -> h.engine.dismiss("a"));
        h.run(() -> h.engine.dismiss("b"));
    }

    @Test
    void anyManualJobMakesTheTransactionWaitForFinalize() throws InterruptedException {
        Job a = h.started("a", da, inTxn());
        Job b = h.started("b", db, inTxn().withAutoFinalize(false));
        da.act(FINISH);
        db.act(FINISH);
        h.awaitStatus(a, PENDING);
        h.awaitStatus(b, PENDING);
        h.drainMainLoop();
        assertThat(a.status()).isEqualTo(PENDING);
        // finalizing the auto-finalize one finalizes the whole transaction
        h.run(() -> h.engine.finalizeJob("a"));
        assertThat(a.status()).isEqualTo(CONCLUDED);
        assertThat(b.status()).isEqualTo(CONCLUDED);
        assertThat(da.commitCalls).hasValue(1);
        assertThat(db.commitCalls).hasValue(1);
        assertThatThrownBy(() -> h.run(() -> h.engine.finalizeJob("a")))
                .hasMessage("Job 'a' in state 'concluded' cannot accept command verb 'finalize'");
        h.run(() -> h.engine.dismiss("a"));
        h.run(() -> h.engine.dismiss("b"));
    }

    @Test
    void aFailedPrepareAbortsEveryJob() throws InterruptedException {
        Job a = h.started("a", da, inTxn());
        Job b = h.started("b", db, inTxn());
        db.prepareFailure = new IOException("target full");
        da.act(FINISH);
        db.act(FINISH);
        h.awaitStatus(a, CONCLUDED);
        h.awaitStatus(b, CONCLUDED);
        assertThat(b.error()).contains("target full");
        assertThat(a.error()).contains("Transaction aborted because job 'b' failed");
        for (TestDriver d : new TestDriver[] {da, db}) {
            assertThat(d.prepareCalls).hasValue(1);
            assertThat(d.commitCalls).hasValue(0);
            assertThat(d.abortCalls).hasValue(1);
            assertThat(d.cleanCalls).hasValue(1);
        }
        assertThat(h.statuses("a")).containsExactly(CREATED, RUNNING, WAITING, PENDING, ABORTING, CONCLUDED);
        h.run(() -> h.engine.dismiss("a"));
        h.run(() -> h.engine.dismiss("b"));
    }

    @Test
    void cancelOfACreatedJobAbortsStartedPartners() throws InterruptedException {
        Job a = h.started("a", da, inTxn());
        Job b = h.create("b", db, inTxn());
        h.run(() -> h.engine.cancel("b", true));
        h.awaitStatus(a, CONCLUDED);
        // b never started: it is dismissed even without auto-dismiss (QEMU)
        h.awaitStatus(b, NULL);
        assertThat(h.statuses("b")).containsExactly(CREATED, ABORTING, CONCLUDED, NULL);
        assertThat(a.error()).contains("Transaction aborted because job 'b' was cancelled");
        assertThat(da.abortCalls).hasValue(1);
        assertThat(db.abortCalls).hasValue(1);
        assertThat(db.cleanCalls).hasValue(1);
        h.run(() -> h.engine.dismiss("a"));
    }

    @Test
    void aCreatedPartnerOfAFailedJobNeverStarts() throws InterruptedException {
        Job a = h.started("a", da, inTxn());
        Job b = h.create("b", db, inTxn());
        da.act(FAIL, 1);
        h.awaitStatus(b, NULL);
        h.awaitStatus(a, CONCLUDED);
        h.run(() -> h.engine.start(b)); // no effect: it will never run
        assertThat(db.started.getCount()).isEqualTo(1);
        assertThat(db.abortCalls).hasValue(1);
        h.run(() -> h.engine.dismiss("a"));
    }

    @Test
    void aVictimKeepsTheFirstErrorNotItsLaterFailure() throws InterruptedException {
        Job a = h.started("a", da, inTxn());
        Job b = h.call(() -> h.engine.create("b", JobKind.plain("test"), ctx -> {
            try {
                while (true) {
                    ctx.sleep(dev.converge.testing.TestTimeouts.LONG);
                }
            } catch (JobCancelledException e) {
                throw new IOException("late error while unwinding");
            }
        }, inTxn()));
        h.run(() -> h.engine.start(b));
        da.act(FAIL, 3);
        h.awaitStatus(b, CONCLUDED);
        assertThat(b.error()).contains("Transaction aborted because job 'a' failed");
        assertThat(a.error()).contains("failure 3");
        h.run(() -> h.engine.dismiss("a"));
        h.run(() -> h.engine.dismiss("b"));
    }
}
