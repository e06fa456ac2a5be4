package dev.converge.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.qmp.MainLoop;
import dev.converge.testing.TestTimeouts;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * An engine on its own main loop, with a listener that records every event, for tests. Verbs
 * run on the main loop, as QMP handlers would call them.
 */
final class Harness implements AutoCloseable {
    /** One recorded event. */
    record Event(String kind, String id, JobStatus status) {
    }

    final MainLoop mainLoop = new MainLoop();
    final JobEngine engine = new JobEngine(mainLoop);
    /** Guarded by itself; appended as the engine delivers events, so in the engine's total order. */
    private final List<Event> events = new ArrayList<>();

    /** The first hook or listener call made under the job lock (an engine bug); checked at close. */
    private final java.util.concurrent.atomic.AtomicReference<String> lockViolation =
            new java.util.concurrent.atomic.AtomicReference<>();
    /** Hook and listener calls checked against the lock contract (so a test can see the check ran). */
    final java.util.concurrent.atomic.AtomicInteger lockChecks = new java.util.concurrent.atomic.AtomicInteger();

    /** The first exception that escaped a main-loop task (an engine bug); checked at close. */
    private final java.util.concurrent.atomic.AtomicReference<Throwable> mainLoopCrash =
            new java.util.concurrent.atomic.AtomicReference<>();

    Harness() {
        mainLoop.call(() -> {
            Thread.currentThread().setUncaughtExceptionHandler((t, e) -> mainLoopCrash.compareAndSet(null, e));
            return null;
        });
        engine.addListener(new JobListener() {
            @Override
            public void statusChanged(Job job, JobStatus s) {
                record(new Event("status", job.id(), s));
            }

            @Override
            public void infoChanged(Job job) {
                record(new Event("info", job.id(), null));
            }

            @Override
            public void finalized(Job job) {
                record(new Event("finalized", job.id(), null));
            }

            @Override
            public void ready(Job job) {
                record(new Event("ready", job.id(), null));
            }
        });
    }

    /** The lock contract: no driver hook and no listener runs while the job lock is held. */
    void checkNotUnderLock(String what) {
        lockChecks.incrementAndGet();
        if (engine.holdsJobLock()) {
            lockViolation.compareAndSet(null, what + " on " + Thread.currentThread());
        }
    }

    /** The first violation of the lock contract seen so far, if any. */
    java.util.Optional<String> lockViolation() {
        return java.util.Optional.ofNullable(lockViolation.get());
    }

    private void record(Event e) {
        checkNotUnderLock("listener " + e.kind());
        synchronized (events) {
            events.add(e);
        }
    }

    List<Event> events() {
        synchronized (events) {
            return new ArrayList<>(events);
        }
    }

    /** The statuses announced for {@code id}, in order. */
    List<JobStatus> statuses(String id) {
        return events().stream().filter(e -> e.kind().equals("status") && e.id().equals(id))
                .map(Event::status).toList();
    }

    <T> T call(Callable<T> c) {
        return mainLoop.call(c);
    }

    void run(Runnable r) {
        mainLoop.call(() -> {
            r.run();
            return null;
        });
    }

    Job create(String id, TestDriver d, JobOptions o) {
        d.hookProbe = hook -> checkNotUnderLock("driver hook " + hook);
        return call(() -> engine.create(id, TestDriver.KIND, d, o));
    }

    /** Creates and starts a job and waits for its run() to begin. */
    Job started(String id, TestDriver d, JobOptions o) throws InterruptedException {
        Job j = create(id, d, o);
        run(() -> engine.start(j));
        assertThat(d.started.await(TestTimeouts.SHORT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS))
                .isTrue();
        return j;
    }

    /**
     * Waits until {@code j} is in {@code s} and that status has been announced to the listeners:
     * a job thread sets a status under the job lock and announces it just after releasing it, so
     * a test that reads {@link #statuses} must wait for the announcement, not only the status.
     */
    void awaitStatus(Job j, JobStatus s) {
        await().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(2)).atMost(TestTimeouts.SHORT)
                .until(() -> j.status() == s && lastAnnounced(j.id()) == s);
    }

    private JobStatus lastAnnounced(String id) {
        List<JobStatus> announced = statuses(id);
        return announced.isEmpty() ? null : announced.getLast();
    }

    /** Waits until the main loop ran everything queued so far (e.g. a completion hand-over). */
    void drainMainLoop() {
        call(() -> null);
    }

    @Override
    public void close() {
        run(() -> {
            for (Job j : engine.jobs()) {
                if (JobTables.accepts(JobVerb.CANCEL, j.status())) {
                    engine.cancel(j.id(), true); // leftovers of a failed test: end them fast
                }
            }
        });
        try {
            assertThat(engine.awaitThreadsEnded(TestTimeouts.MEDIUM)).as("job threads ended").isTrue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while joining job threads", e);
        }
        mainLoop.close();
        assertThat(mainLoopCrash.get()).as("exception on the main loop").isNull();
        assertThat(lockViolation()).as("a driver hook or listener ran under the job lock").isEmpty();
    }
}
