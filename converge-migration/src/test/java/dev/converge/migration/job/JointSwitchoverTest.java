package dev.converge.migration.job;

import static dev.converge.job.JobStatus.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.job.Job;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import dev.converge.job.JobEngine;
import dev.converge.job.JobOptions;
import dev.converge.job.JobStatus;
import dev.converge.job.JobTxn;
import dev.converge.migration.job.JointSwitchover.MirrorState;
import dev.converge.migration.job.JointSwitchover.Readiness;
import dev.converge.qmp.MainLoop;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The readiness policy of the joint switchover, with synthetic mirror states. */
class JointSwitchoverTest {
    private static MirrorState m(String id, JobStatus s) {
        return new MirrorState(id, s, false);
    }

    @Test
    void readyWhenEveryMirrorIsReadyOrStandby() {
        assertThat(JointSwitchover.assess(List.of(m("a", READY), m("b", STANDBY)))).isEqualTo(new Readiness.Ready());
        assertThat(JointSwitchover.assess(List.of())).isEqualTo(new Readiness.Ready());
    }

    @ParameterizedTest
    @EnumSource(value = JobStatus.class, names = {"CREATED", "RUNNING", "PAUSED"})
    void notYetNamesTheFirstMirrorStillCopying(JobStatus s) {
        assertThat(JointSwitchover.assess(List.of(m("a", READY), m("b", s), m("c", RUNNING))))
                .isEqualTo(new Readiness.NotYet("mirror job 'b' is not ready (status " + s.wireName()
                        + "): the joint switchover needs every mirror in sync"));
    }

    @ParameterizedTest
    @EnumSource(value = JobStatus.class, names = {"WAITING", "PENDING", "ABORTING", "CONCLUDED", "NULL"})
    void brokenWhenAMirrorEndedEvenIfAnotherIsNotReady(JobStatus s) {
        assertThat(JointSwitchover.assess(List.of(m("a", RUNNING), m("b", s))))
                .isEqualTo(new Readiness.Broken("mirror job 'b' ended before the joint switchover (status "
                        + s.wireName() + "): its target no longer follows the source"));
    }

    @Test
    void aReadyMirrorWithACancelRequestIsBroken() {
        assertThat(JointSwitchover.assess(List.of(new MirrorState("a", READY, true))))
                .isEqualTo(new Readiness.Broken("mirror job 'a' was cancelled before the joint switchover"));
    }

    /** A driver that only counts the preparations asked of it; its run() never starts here. */
    private static final class Counting implements JobDriver<Record, Record> {
        final AtomicInteger prepared = new AtomicInteger();
        final CountDownLatch both;
        volatile boolean overlapped;

        Counting(CountDownLatch both) {
            this.both = both;
        }

        @Override
        public void run(JobContext ctx) {
        }

        @Override
        public void prepareSwitchover() {
            prepared.incrementAndGet();
            both.countDown();
            try {
                // True only if the other mirror prepares meanwhile: they run at once, not one by one.
                overlapped = both.await(dev.converge.testing.TestTimeouts.SHORT.toMillis(),
                        java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Test
    void prepareMirrorsHasEveryMirrorPrepareAtOnceAndLeavesOtherPartnersAlone() {
        try (MainLoop loop = new MainLoop()) {
            JobEngine engine = new JobEngine(loop);
            CountDownLatch both = new CountDownLatch(2);
            Counting m0 = new Counting(both);
            Counting m1 = new Counting(both);
            Counting other = new Counting(new CountDownLatch(0));
            JointSwitchover joint = loop.call(() -> {
                JobOptions opts = JobOptions.defaults().withTxn(new JobTxn());
                Job owner = engine.create("migration", dev.converge.job.JobKind.plain("migration"), new Counting(new CountDownLatch(0)), opts);
                engine.create("m0", dev.converge.job.JobKind.plain(JointSwitchover.MIRROR_TYPE), m0, opts);
                engine.create("m1", dev.converge.job.JobKind.plain(JointSwitchover.MIRROR_TYPE), m1, opts);
                engine.create("backup", dev.converge.job.JobKind.plain("backup"), other, opts);
                return JointSwitchover.of(engine, loop, owner).orElseThrow();
            });
            joint.prepareMirrors();
            assertThat(m0.prepared).hasValue(1);
            assertThat(m1.prepared).hasValue(1);
            assertThat(m0.overlapped && m1.overlapped).as("both prepared at the same time").isTrue();
            assertThat(other.prepared).as("not a mirror").hasValue(0);
        }
    }
}
