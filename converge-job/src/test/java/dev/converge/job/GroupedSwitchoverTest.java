package dev.converge.job;

import static dev.converge.job.JobStatus.*;
import static dev.converge.job.TestDriver.Action.Kind.FINISH;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.job.GroupedSwitchover.ParticipantState;
import dev.converge.job.GroupedSwitchover.Readiness;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The grouped switchover: its readiness policy, and the engine's leader and participants. */
class GroupedSwitchoverTest {
    private static ParticipantState m(String id, JobStatus s) {
        return new ParticipantState(id, "mirror", s, false);
    }

    @Test
    void readyWhenEveryParticipantIsReadyOrStandby() {
        assertThat(GroupedSwitchover.assess(List.of(m("a", READY), m("b", STANDBY)))).isEqualTo(new Readiness.Ready());
        assertThat(GroupedSwitchover.assess(List.of())).isEqualTo(new Readiness.Ready());
    }

    @ParameterizedTest
    @EnumSource(value = JobStatus.class, names = {"CREATED", "RUNNING", "PAUSED"})
    void notYetNamesTheFirstParticipantStillWorking(JobStatus s) {
        assertThat(GroupedSwitchover.assess(List.of(m("a", READY), m("b", s), m("c", RUNNING))))
                .isEqualTo(new Readiness.NotYet("mirror job 'b' is not ready (status " + s.wireName()
                        + "): the joint switchover needs every mirror in sync"));
    }

    @ParameterizedTest
    @EnumSource(value = JobStatus.class, names = {"WAITING", "PENDING", "ABORTING", "CONCLUDED", "NULL"})
    void brokenWhenAParticipantEndedEvenIfAnotherIsNotReady(JobStatus s) {
        assertThat(GroupedSwitchover.assess(List.of(m("a", RUNNING), m("b", s))))
                .isEqualTo(new Readiness.Broken("mirror job 'b' ended before the joint switchover (status "
                        + s.wireName() + "): its target no longer follows the source"));
    }

    @Test
    void aReadyParticipantWithACancelRequestIsBroken() {
        assertThat(GroupedSwitchover.assess(List.of(new ParticipantState("a", "mirror", READY, true))))
                .isEqualTo(new Readiness.Broken("mirror job 'a' was cancelled before the joint switchover"));
    }

    /** A driver that takes part in grouped switchovers: converges on demand, ends when finished in place. */
    static final class Participant implements JobDriver<Record, Record>, SwitchoverParticipant {
        final AtomicInteger prepared = new AtomicInteger();
        final AtomicInteger finished = new AtomicInteger();
        private volatile boolean converge;
        private volatile JobContext ctx;

        @Override
        public void run(JobContext c) {
            ctx = c;
            boolean ready = false;
            while (finished.get() == 0) {
                if (converge && !ready) {
                    ready = true;
                    c.setReady();
                }
                c.sleep(dev.converge.testing.TestTimeouts.LONG);
            }
        }

        void converge() {
            converge = true;
            wake();
        }

        private void wake() {
            JobContext c = ctx;
            if (c != null) {
                c.wake();
            }
        }

        @Override
        public void prepareSwitchover() {
            prepared.incrementAndGet();
        }

        @Override
        public void finishInPlace() {
            finished.incrementAndGet();
            wake();
        }
    }

    @Test
    void theLeaderFinishesItsParticipantsInPlaceAndTheUserMayNotCompleteThem() throws Exception {
        try (Harness h = new Harness()) {
            JobOptions opts = JobOptions.defaults().withTxn(new JobTxn());
            TestDriver lead = new TestDriver();
            Participant p = new Participant();
            TestDriver bystander = new TestDriver();
            Job leader = h.create("lead", lead, opts);
            Job pj = h.call(() -> h.engine.create("p", JobKind.plain("part"), p, opts));
            Job bj = h.create("by", bystander, opts);
            GroupedSwitchover g = h.call(() -> h.engine.leadSwitchover(leader)).orElseThrow();
            assertThat(g.participants()).containsExactly(pj);
            assertThat(h.engine.switchoverLeader(pj)).contains(leader);
            assertThat(h.engine.switchoverLeader(bj)).as("not a participant").isEmpty();
            assertThatThrownBy(() -> h.call(() -> h.engine.leadSwitchover(bj)))
                    .isInstanceOf(IllegalStateException.class);
            h.run(() -> {
                h.engine.start(leader);
                h.engine.start(pj);
                h.engine.start(bj);
            });
            assertThatThrownBy(() -> h.run(g::checkComplete))
                    .hasMessage("Cannot switch over 'lead': part job 'p' is not ready (status running): "
                            + "the joint switchover needs every part in sync");
            org.awaitility.Awaitility.await().atMost(dev.converge.testing.TestTimeouts.SHORT).until(() -> p.ctx != null);
            p.converge();
            h.awaitStatus(pj, READY);
            assertThatThrownBy(() -> h.run(() -> h.engine.complete("p")))
                    .hasMessage("Job 'p' is completed by the switchover of job 'lead' of its transaction");
            h.run(g::checkComplete);
            g.prepare();
            assertThat(p.prepared).hasValue(1);
            g.finishInPlace();
            assertThat(p.finished).hasValue(1);
            lead.act(FINISH);
            bystander.act(FINISH);
            h.awaitStatus(leader, NULL);
            h.awaitStatus(pj, NULL);
            assertThat(pj.outcome()).contains(JobOutcome.COMPLETED);
            assertThat(bystander.commitCalls).hasValue(1);
        }
    }

    @Test
    void aTransactionWithoutParticipantsHasNoGroupedSwitchover() {
        try (Harness h = new Harness()) {
            JobOptions opts = JobOptions.defaults().withTxn(new JobTxn());
            Job leader = h.create("lead", new TestDriver(), opts);
            h.create("other", new TestDriver(), opts);
            assertThat(h.call(() -> h.engine.leadSwitchover(leader))).isEmpty();
            h.run(() -> h.engine.cancel("lead", true));
        }
    }
}
