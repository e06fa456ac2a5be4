package dev.converge.migration.job;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.job.Job;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import dev.converge.job.JobEngine;
import dev.converge.job.JobKind;
import dev.converge.job.JobOptions;
import dev.converge.job.JobTxn;
import dev.converge.job.SwitchoverParticipant;
import dev.converge.qmp.MainLoop;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The joint switchover's preparation over the engine's grouped switchover (its readiness policy
 * is tested in converge-job, GroupedSwitchoverTest).
 */
class JointSwitchoverTest {
    /** A driver that only counts the preparations asked of it; its run() never starts here. */
    private static final class Counting implements JobDriver<Record, Record>, SwitchoverParticipant {
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
        public void finishInPlace() {
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
    void prepareMirrorsHasEveryMirrorPrepareAtOnceAndLeavesOtherJobsAlone() {
        try (MainLoop loop = new MainLoop()) {
            JobEngine engine = new JobEngine(loop);
            CountDownLatch both = new CountDownLatch(2);
            Counting m0 = new Counting(both);
            Counting m1 = new Counting(both);
            JobDriver<Record, Record> bystander = ctx -> { };
            JointSwitchover joint = loop.call(() -> {
                JobOptions opts = JobOptions.defaults().withTxn(new JobTxn());
                Job owner = engine.create("migration", JobKind.plain("migration"), bystander, opts);
                engine.create("m0", JobKind.plain("mirror"), m0, opts);
                engine.create("m1", JobKind.plain("mirror"), m1, opts);
                engine.create("backup", JobKind.plain("backup"), (JobDriver<Record, Record>) ctx -> { }, opts);
                return JointSwitchover.of(engine, owner).orElseThrow();
            });
            joint.prepareMirrors();
            assertThat(m0.prepared).hasValue(1);
            assertThat(m1.prepared).hasValue(1);
            assertThat(m0.overlapped && m1.overlapped).as("both prepared at the same time").isTrue();
            assertThat(joint.mirrors()).extracting(Job::id).as("the participants, found by their driver")
                    .containsExactly("m0", "m1");
        }
    }
}
