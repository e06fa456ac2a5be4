package dev.converge.migration.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.job.Job;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import dev.converge.job.JobEngine;
import dev.converge.job.JobException;
import dev.converge.job.JobListener;
import dev.converge.job.JobOptions;
import dev.converge.job.JobStatus;
import dev.converge.job.JobTxn;
import dev.converge.job.SwitchoverParticipant;
import dev.converge.migration.precopy.MigrationException;
import dev.converge.qmp.MainLoop;
import dev.converge.testing.TestTimeouts;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/**
 * A transaction of one migration and two mirrors on the real job engine with small fake
 * drivers and the real {@link JointSwitchover}; random orders of readiness, failures and user
 * verbs. Checked: every job concludes; all commit or all abort (each job exactly one of them,
 * then clean); after a commit the guest is in postmigrate and every mirror finished while it
 * was stopped; after an abort the guest runs.
 */
class JointTransactionProperties {
    enum Op { MIRROR_READY, MIGRATION_CONVERGED, MIRROR_FAIL, MIGRATION_FAIL, CANCEL, PAUSE, RESUME, COMPLETE,
        FINALIZE }

    record Step(Op op, int job) {
    }

    record Scenario(boolean autoFinalize, List<Step> steps, boolean endWell) {
    }

    @Provide
    Arbitrary<Scenario> scenarios() {
        Arbitrary<Step> step = Combinators.combine(Arbitraries.of(Op.class), Arbitraries.integers().between(0, 2))
                .as(Step::new);
        return Combinators.combine(Arbitraries.of(true, false), step.list().ofMaxSize(12),
                Arbitraries.integers().between(0, 3).map(i -> i > 0)).as(Scenario::new);
    }

    /** The guest: running, or stopped for the switchover, or gone to the destination (postmigrate). */
    enum Guest { RUNNING, STOPPED, POSTMIGRATE }

    /** What a test job records of its hooks; fields are written by one thread each, read after the end. */
    abstract static class Fake implements JobDriver<Record, Record> {
        final Map<String, Integer> hooks = new ConcurrentHashMap<>();
        volatile boolean fail;
        volatile JobContext ctx;

        void count(String hook) {
            hooks.merge(hook, 1, Integer::sum);
        }

        void wake() {
            JobContext c = ctx;
            if (c != null) {
                c.wake();
            }
        }

        @Override
        public void commit() {
            count("commit");
        }

        @Override
        public void abort() {
            count("abort");
        }

        @Override
        public void clean() {
            count("clean");
        }
    }

    /** A mirror: ready on demand; finishing in place (or a soft cancel in READY) finishes it (no pivot); may fail. */
    static final class FakeMirror extends Fake implements SwitchoverParticipant {
        final Guests guest;
        volatile boolean insync;
        volatile boolean softCancelled;
        volatile boolean synced;
        /** Whether its run() ended successfully while the guest was stopped. */
        volatile boolean finishedWhileStopped;

        FakeMirror(Guests guest) {
            this.guest = guest;
        }

        @Override
        public void run(JobContext c) throws Exception {
            ctx = c;
            for (;;) {
                c.checkpoint();
                if (fail) {
                    throw new Exception("target write failed");
                }
                if (insync && !synced) {
                    synced = true;
                    c.setReady();
                }
                if (softCancelled) {
                    finishedWhileStopped = guest.state == Guest.STOPPED;
                    return;
                }
                c.sleep(Duration.ofMillis(50));
            }
        }

        @Override
        public boolean cancel(boolean force) {
            if (force || !synced) {
                return true;
            }
            softCancelled = true;
            wake();
            return false;
        }

        @Override
        public void complete() {
            throw JobException.generic("completed by the transaction");
        }

        @Override
        public void prepareSwitchover() {
        }

        /** The migration's switchover: finish without pivot, as a soft cancel in READY does. */
        @Override
        public void finishInPlace() {
            softCancelled = true;
            wake();
        }
    }

    /** The guest's run state, shared by the fake migration and the mirrors. */
    static final class Guests {
        volatile Guest state = Guest.RUNNING;
    }

    /** A migration: converges on demand, switches over jointly on job-complete, may fail. */
    static final class FakeMigration extends Fake {
        final Guests guest;
        volatile JointSwitchover joint;
        volatile boolean converged;
        volatile boolean readySet;
        volatile boolean switchedOver;

        FakeMigration(Guests guest) {
            this.guest = guest;
        }

        @Override
        public void run(JobContext c) throws Exception {
            ctx = c;
            for (;;) {
                c.checkpoint();
                if (fail) {
                    throw new Exception("destination gone");
                }
                if (converged && !readySet) {
                    readySet = true;
                    c.setReady();
                }
                if (readySet && c.completeRequested()) {
                    guest.state = Guest.STOPPED;
                    try {
                        joint.completeMirrors();
                        if (fail) {
                            throw new Exception("destination gone during the switchover");
                        }
                    } catch (MigrationException | RuntimeException e) {
                        guest.state = Guest.RUNNING;
                        throw e;
                    }
                    switchedOver = true;
                    return;
                }
                c.sleep(Duration.ofMillis(50));
            }
        }

        @Override
        public void complete() {
            joint.checkComplete();
        }

        @Override
        public boolean cancel(boolean force) {
            return true;
        }

        @Override
        public void commit() {
            super.commit();
            guest.state = Guest.POSTMIGRATE;
        }

        @Override
        public void abort() {
            super.abort();
            if (switchedOver) {
                guest.state = Guest.RUNNING;
            }
        }
    }

    /** Statuses seen per job, recorded by the engine's listener (in the engine's order: only records). */
    static final class Seen implements JobListener {
        final Map<String, JobStatus> last = new ConcurrentHashMap<>();

        @Override
        public void statusChanged(Job job, JobStatus s) {
            last.put(job.id(), s);
        }
    }

    private static final AtomicInteger RUNS = new AtomicInteger();

    @Property(tries = 60)
    void allCommitOrAllAbort(@ForAll("scenarios") Scenario sc) throws Exception {
        try (MainLoop loop = new MainLoop()) {
            JobEngine engine = new JobEngine(loop);
            Seen seen = new Seen();
            engine.addListener(seen);
            Guests guest = new Guests();
            FakeMigration mig = new FakeMigration(guest);
            List<FakeMirror> mirrors = List.of(new FakeMirror(guest), new FakeMirror(guest));
            String prefix = "r" + RUNS.incrementAndGet() + "-";
            List<String> ids = List.of(prefix + "migration", prefix + "m0", prefix + "m1");
            List<Fake> drivers = List.of(mig, mirrors.get(0), mirrors.get(1));
            loop.call(() -> {
                JobTxn txn = new JobTxn();
                JobOptions opts = JobOptions.defaults().withTxn(txn).withAutoFinalize(sc.autoFinalize());
                Job mj = engine.create(ids.get(0), dev.converge.job.JobKind.plain("migration"), mig, opts);
                engine.create(ids.get(1), dev.converge.job.JobKind.plain("mirror"), mirrors.get(0), opts);
                engine.create(ids.get(2), dev.converge.job.JobKind.plain("mirror"), mirrors.get(1), opts);
                mig.joint = JointSwitchover.of(engine, mj).orElseThrow();
                for (String id : ids) {
                    engine.start(engine.get(id));
                }
                return null;
            });
            for (Step s : sc.steps()) {
                apply(loop, engine, ids, mig, mirrors, s);
            }
            if (sc.endWell()) {
                mirrors.forEach(m -> {
                    m.insync = true;
                    m.wake();
                });
                mig.converged = true;
                mig.wake();
            }
            await().atMost(TestTimeouts.LONG).pollInterval(Duration.ofMillis(20)).until(() -> {
                // Drive what is left: resume, complete, finalize; give up well with a cancel.
                if (sc.endWell()) {
                    for (String id : ids) {
                        tryVerb(loop, () -> engine.resume(id));
                    }
                    tryVerb(loop, () -> engine.complete(ids.get(0)));
                } else {
                    tryVerb(loop, () -> engine.cancel(ids.get(0), true));
                }
                tryVerb(loop, () -> engine.finalizeJob(ids.get(0)));
                return ids.stream().allMatch(id -> seen.last.get(id) == JobStatus.NULL);
            });
            assertThat(engine.awaitThreadsEnded(TestTimeouts.MEDIUM)).isTrue();

            long commits = drivers.stream().filter(d -> d.hooks.getOrDefault("commit", 0) == 1).count();
            long aborts = drivers.stream().filter(d -> d.hooks.getOrDefault("abort", 0) == 1).count();
            for (Fake d : drivers) {
                assertThat(d.hooks.getOrDefault("commit", 0) + d.hooks.getOrDefault("abort", 0))
                        .as("exactly one of commit or abort").isEqualTo(1);
                assertThat(d.hooks.get("clean")).as("clean once").isEqualTo(1);
            }
            assertThat(commits == 3 || aborts == 3).as("all commit or all abort: %s", drivers).isTrue();
            if (commits == 3) {
                assertThat(guest.state).isEqualTo(Guest.POSTMIGRATE);
                assertThat(mirrors).allMatch(m -> m.finishedWhileStopped, "every mirror finished with the guest stopped");
            } else {
                assertThat(guest.state).as("the source runs after an abort").isEqualTo(Guest.RUNNING);
            }
            Statistics.collect(commits == 3 ? "commit" : "abort");
        }
    }

    private static void apply(MainLoop loop, JobEngine engine, List<String> ids, FakeMigration mig,
            List<FakeMirror> mirrors, Step s) {
        int mirror = s.job() % 2;
        String id = ids.get(s.job());
        switch (s.op()) {
            case MIRROR_READY -> {
                mirrors.get(mirror).insync = true;
                mirrors.get(mirror).wake();
            }
            case MIGRATION_CONVERGED -> {
                mig.converged = true;
                mig.wake();
            }
            case MIRROR_FAIL -> {
                mirrors.get(mirror).fail = true;
                mirrors.get(mirror).wake();
            }
            case MIGRATION_FAIL -> {
                mig.fail = true;
                mig.wake();
            }
            case CANCEL -> tryVerb(loop, () -> engine.cancel(id, true));
            case PAUSE -> tryVerb(loop, () -> engine.pause(id));
            case RESUME -> tryVerb(loop, () -> engine.resume(id));
            case COMPLETE -> tryVerb(loop, () -> engine.complete(ids.get(0)));
            case FINALIZE -> tryVerb(loop, () -> engine.finalizeJob(id));
        }
    }

    /** Runs a verb on the main loop; a refusal (the verb is not allowed now) is part of the game. */
    private static void tryVerb(MainLoop loop, Runnable verb) {
        loop.call(() -> {
            try {
                verb.run();
            } catch (JobException e) {
                // refused in this state, as a user's verb may be
            }
            return null;
        });
    }
}
