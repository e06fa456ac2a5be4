package dev.converge.job;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.regex.Pattern;

/**
 * The job engine: creates jobs, starts each run() on its own virtual thread named after the
 * job, looks them up and applies the user's verbs (QEMU's job.c API).
 *
 * <h2>Threads and ordering</h2>
 * Every method here must be called on the main loop (the {@link Executor} given at
 * construction, on which completion handling also runs). One lock, the job lock, guards all
 * generic job state; it is held only briefly and never across a driver hook, a listener call,
 * I/O or a sleep. Events are posted under it, in the order of the changes, and delivered to the
 * listeners in that one total order after it is released ({@link JobLock} describes how). A
 * status change caused by a verb is announced before the verb returns (so before its QMP
 * reply); a change made by a job thread (pause point, ready) is announced by that thread right
 * after it; {@link #query()} reflects every change already announced.
 */
public final class JobEngine {
    /** QEMU id_wellformed: a letter, then letters, digits, '-', '.', '_'. */
    private static final Pattern ID = Pattern.compile("[A-Za-z][A-Za-z0-9._-]*");

    private final JobLock lock = new JobLock();
    private final Executor mainLoop;
    private final JobRegistry registry = new JobRegistry(lock);
    private final TxnCompletion completion = new TxnCompletion(lock, registry);
    /** Called after {@link #lock} is released, in order; copy-on-write because listeners are added at wiring time only. */
    private final List<JobListener> listeners = new CopyOnWriteArrayList<>();
    private final JobListener fanOut = new FanOut();
    /** Job threads not yet ended, for {@link #awaitThreadsEnded}. */
    private final Set<Thread> liveThreads = ConcurrentHashMap.newKeySet();

    /** @param mainLoop the main loop (single thread) on which completion runs and verbs are called */
    public JobEngine(Executor mainLoop) {
        this.mainLoop = Objects.requireNonNull(mainLoop);
    }

    /** Adds a listener for all jobs' events (wiring time). */
    public void addListener(JobListener listener) {
        listeners.add(Objects.requireNonNull(listener));
    }

    /**
     * Creates a job in CREATED (announced), then hands the driver its starting speed
     * ({@link JobDriver#setSpeed}). It does not run until {@link #start}.
     *
     * @param id   the job id: a letter first, then letters, digits, '-', '.', '_'
     * @param kind the job's kind ("mirror", "migration", ...), as registered with the QMP layer
     * @throws JobException "Invalid job ID 'x'", "Job ID 'x' already in use", or a bad speed
     */
    public <C extends Record, I extends Record> Job create(String id, JobKind<C, I> kind, JobDriver<C, I> driver,
            JobOptions options) {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(driver, "driver");
        Objects.requireNonNull(options, "options");
        if (id == null || !ID.matcher(id).matches()) {
            throw JobException.generic("Invalid job ID '" + id + "'");
        }
        if (options.speed() < 0) {
            throw JobException.generic("Parameter 'speed' expects a non-negative value");
        }
        JobTxn txn = options.txn() != null ? options.txn() : new JobTxn();
        Job job;
        lock.lock();
        try {
            if (registry.findLocked(id) != null) {
                throw JobException.generic("Job ID '" + id + "' already in use");
            }
            if (txn.aborting || txn.finishing || txn.jobs.stream().anyMatch(j -> j.runEnded)) {
                throw new IllegalArgumentException("job '" + id + "' cannot join a transaction that is ending");
            }
            job = new Job(id, kind, driver, txn, options, lock, fanOut);
            registry.addLocked(job);
            txn.jobs.add(job);
            job.transitionLocked(JobStatus.CREATED);
        } finally {
            lock.unlock();
        }
        driver.setSpeed(options.speed());
        return job;
    }

    /**
     * CREATED→RUNNING and starts run() on a virtual thread named after the job. A job that was
     * cancelled before it started stays unstarted.
     *
     * @throws IllegalStateException when it was started already (a caller bug)
     */
    public void start(Job job) {
        Thread t;
        lock.lock();
        try {
            if (job.started) {
                throw new IllegalStateException("job '" + job.id() + "' started twice");
            }
            if (job.runEnded) {
                return; // cancelled before start: its transaction is finishing without it
            }
            job.started = true;
            job.transitionLocked(JobStatus.RUNNING);
            JobRunner runner = new JobRunner(job, mainLoop, completion);
            t = Thread.ofVirtual().name(job.id()).unstarted(() -> {
                try {
                    runner.run();
                } finally {
                    liveThreads.remove(Thread.currentThread());
                }
            });
            job.thread = t;
            liveThreads.add(t);
        } finally {
            lock.unlock();
        }
        t.start();
    }

    /** The live job with this id. */
    public Optional<Job> find(String id) {
        lock.lock();
        try {
            return Optional.ofNullable(registry.findLocked(id));
        } finally {
            lock.unlock();
        }
    }

    /**
     * The live job with this id.
     *
     * @throws JobException NOT_FOUND "Job not found"
     */
    public Job get(String id) {
        lock.lock();
        try {
            return registry.getLocked(id);
        } finally {
            lock.unlock();
        }
    }

    /** The other jobs of {@code job}'s transaction, in creation order (empty for a job alone). */
    public List<Job> transactionPartners(Job job) {
        lock.lock();
        try {
            List<Job> out = new ArrayList<>(job.txn().jobs);
            out.remove(job);
            return out;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Makes {@code leader} the switchover leader of its transaction (see {@link GroupedSwitchover}):
     * the other jobs of the transaction whose driver is a {@link SwitchoverParticipant} become its
     * participants, finished by its switchover; the user's job-complete of a participant is
     * refused from now on. Main loop, once every job of the transaction was created and before
     * the leader starts.
     *
     * @return the grouped switchover, or empty when the transaction has no participant (the
     *         leader switches over alone)
     * @throws IllegalStateException the transaction has a leader already (a caller bug)
     */
    public Optional<GroupedSwitchover> leadSwitchover(Job leader) {
        List<Job> participants = new ArrayList<>();
        lock.lock();
        try {
            JobTxn txn = leader.txn();
            if (txn.leader != null) {
                throw new IllegalStateException("transaction of '" + leader.id() + "' is led by '" + txn.leader.id()
                        + "' already");
            }
            for (Job j : txn.jobs) {
                if (j != leader && j.driver() instanceof SwitchoverParticipant) {
                    participants.add(j);
                }
            }
            if (participants.isEmpty()) {
                return Optional.empty();
            }
            txn.leader = leader;
        } finally {
            lock.unlock();
        }
        return Optional.of(new GroupedSwitchover(mainLoop, leader, participants));
    }

    /**
     * The leader whose switchover finishes {@code job}, when {@code job} is a participant of a
     * grouped switchover (see {@link #leadSwitchover}); empty otherwise.
     */
    public Optional<Job> switchoverLeader(Job job) {
        lock.lock();
        try {
            return Optional.ofNullable(leaderOfLocked(job));
        } finally {
            lock.unlock();
        }
    }

    private static Job leaderOfLocked(Job job) {
        Job leader = job.txn().leader;
        return leader != null && leader != job && job.driver() instanceof SwitchoverParticipant ? leader : null;
    }

    /** Live jobs (not dismissed), in creation order. */
    public List<Job> jobs() {
        lock.lock();
        try {
            return registry.listLocked();
        } finally {
            lock.unlock();
        }
    }

    /** Snapshots of all live jobs, in creation order (query-jobs). */
    public List<JobInfo> query() {
        List<JobInfo> out = new ArrayList<>();
        for (Job j : jobs()) {
            out.add(query(j));
        }
        return out;
    }

    /** A snapshot of one job: generic members under the lock, then the driver's info outside it. */
    public JobInfo query(Job job) {
        String id = job.id();
        JobStatus status;
        long current;
        long total;
        String error;
        lock.lock();
        try {
            status = job.status();
            current = job.currentLocked();
            total = job.totalLocked();
            error = job.errorLocked();
        } finally {
            lock.unlock();
        }
        Record info = job.driver().info();
        return new JobInfo(id, job.type(), status, current, total, Optional.ofNullable(error), Optional.ofNullable(info));
    }

    /**
     * The user's pause: the job parks at its next pause point (RUNNING→PAUSED, READY→STANDBY).
     *
     * @throws JobException not found, verb refused, or "Job is already paused"
     */
    public void pause(String id) {
        lock.lock();
        try {
            Job job = registry.getLocked(id);
            JobTables.checkVerb(id, job.status(), JobVerb.PAUSE);
            if (job.userPaused) {
                throw JobException.generic("Job is already paused");
            }
            job.userPaused = true;
            job.pauseCount++;
            job.kickLocked();
        } finally {
            lock.unlock();
        }
    }

    /**
     * The user's resume: undoes the user's pause; the job continues when no internal pause holds it.
     *
     * @throws JobException not found, "Can't resume a job that was not paused", or verb refused
     */
    public void resume(String id) {
        lock.lock();
        try {
            Job job = registry.getLocked(id);
            // QEMU checks "paused by the user" before the verb.
            if (!job.userPaused || job.pauseCount <= 0) {
                throw JobException.generic("Can't resume a job that was not paused");
            }
            JobTables.checkVerb(id, job.status(), JobVerb.RESUME);
            job.userPaused = false;
            job.pauseCount--;
            job.kickLocked();
        } finally {
            lock.unlock();
        }
    }

    /** An internal pause (e.g. while the block graph changes); counted, no verb check, not visible as a user pause. */
    public void pauseInternally(Job job) {
        lock.lock();
        try {
            job.pauseCount++;
            job.kickLocked();
        } finally {
            lock.unlock();
        }
    }

    /** Undoes one {@link #pauseInternally}. */
    public void resumeInternally(Job job) {
        lock.lock();
        try {
            if (job.pauseCount <= (job.userPaused ? 1 : 0)) {
                throw new IllegalStateException("job '" + job.id() + "': internal resume without internal pause");
            }
            job.pauseCount--;
            job.kickLocked();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Cancels a job (QEMU job_user_cancel). The driver's {@link JobDriver#cancel} decides whether a
     * soft cancel is really a force cancel; a job cancelled before start is always force-cancelled.
     * A user pause is undone. A soft cancel after run() ended is ignored; a force cancel then
     * aborts the transaction. In CREATED the job ends at once (ABORTING, CONCLUDED, NULL).
     *
     * @throws JobException not found or verb refused
     */
    public void cancel(String id, boolean force) {
        Job job;
        lock.lock();
        try {
            job = registry.getLocked(id);
            JobTables.checkVerb(id, job.status(), JobVerb.CANCEL);
        } finally {
            lock.unlock();
        }
        boolean reallyForce = job.driver().cancel(force);
        boolean notStarted;
        boolean abortEnded;
        lock.lock();
        try {
            notStarted = !job.started;
            if (notStarted) {
                reallyForce = true;
            }
            if (job.userPaused) {
                job.userPaused = false;
                job.pauseCount--;
            }
            if (reallyForce || !job.runEnded) {
                job.cancelled = true;
                job.forceCancel |= reallyForce;
            }
            job.kickLocked();
            // If run() ended but the main loop has not processed it yet, that pending hand-over
            // sees the cancel and aborts; only an end already processed needs the abort here.
            abortEnded = !notStarted && job.endProcessed && job.isCancelledLocked();
        } finally {
            lock.unlock();
        }
        if (notStarted) {
            completion.runEnded(job, null);
        } else if (abortEnded) {
            completion.cancelEnded(job);
        }
    }

    /**
     * The user's complete (READY or STANDBY): calls {@link JobDriver#complete()}, then sets
     * {@link JobContext#completeRequested()} and wakes the job. A participant of a grouped
     * switchover is refused: its leader's switchover finishes it (completing it earlier would
     * stop it following, and a mirror would hold the guest's writes until the transaction ends,
     * which the switchover, stopping the guest between two writes, would wait for: a deadlock).
     *
     * @throws JobException not found, verb refused, "The active block job 'ID' cannot be
     *                      completed" (cancel requested or the type has no completion), "Job 'ID'
     *                      is completed by the switchover of job 'L' of its transaction", or the
     *                      driver's refusal
     */
    public void complete(String id) {
        Job job;
        lock.lock();
        try {
            job = registry.getLocked(id);
            JobTables.checkVerb(id, job.status(), JobVerb.COMPLETE);
            if (job.cancelled) {
                throw cannotComplete(id);
            }
            Job leader = leaderOfLocked(job);
            if (leader != null) {
                throw JobException.generic(completedByLeader(job, leader));
            }
        } finally {
            lock.unlock();
        }
        try {
            job.driver().complete();
        } catch (UnsupportedOperationException e) {
            throw cannotComplete(id);
        }
        lock.lock();
        try {
            job.completeRequested = true;
            job.kickLocked();
        } finally {
            lock.unlock();
        }
    }

    /** Why the user may not finish a participant of a grouped switchover. */
    public static String completedByLeader(Job participant, Job leader) {
        return "Job '" + participant.id() + "' is completed by the switchover of job '" + leader.id()
                + "' of its transaction";
    }

    private static JobException cannotComplete(String id) {
        return JobException.generic("The active block job '" + id + "' cannot be completed");
    }

    /**
     * The user's finalize of a PENDING job: finalizes its whole transaction (prepare; commit or,
     * if a prepare fails, abort; clean). Returns when every job of the transaction concluded.
     *
     * @throws JobException not found or verb refused
     */
    public void finalizeJob(String id) {
        Job job;
        lock.lock();
        try {
            job = registry.getLocked(id);
            JobTables.checkVerb(id, job.status(), JobVerb.FINALIZE);
        } finally {
            lock.unlock();
        }
        completion.finalizeTxn(job);
    }

    /**
     * The user's dismiss of a CONCLUDED job: NULL, and it is gone.
     *
     * @throws JobException not found or verb refused
     */
    public void dismiss(String id) {
        lock.lock();
        try {
            Job job = registry.getLocked(id);
            JobTables.checkVerb(id, job.status(), JobVerb.DISMISS);
            registry.dismissLocked(job);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Sets the speed limit (bytes per second, 0 = unlimited), then the driver's hook; wakes a
     * rate-limit sleep when the limit was raised or lifted.
     *
     * @throws JobException not found, verb refused, or "Parameter 'speed' expects a non-negative value"
     */
    public void setSpeed(String id, long bytesPerSecond) {
        Job job;
        long old;
        lock.lock();
        try {
            job = registry.getLocked(id);
            JobTables.checkVerb(id, job.status(), JobVerb.SET_SPEED);
            if (bytesPerSecond < 0) {
                throw JobException.generic("Parameter 'speed' expects a non-negative value");
            }
            old = job.speed;
            job.speed = bytesPerSecond;
            job.rateLimit.setSpeed(bytesPerSecond);
        } finally {
            lock.unlock();
        }
        job.driver().setSpeed(bytesPerSecond);
        if (bytesPerSecond == 0 || bytesPerSecond > old) {
            lock.lock();
            try {
                job.kickLocked();
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * The user's change with the kind's typed options, applied by the driver.
     *
     * @param options a record of the job kind's change-options type; null only for a kind
     *                without one (which refuses the change)
     * @throws JobException              not found, verb refused, "Job type does not support
     *                                   change", or the driver's refusal of an option
     * @throws IllegalArgumentException options of another kind's type (a caller bug)
     */
    public void change(String id, Record options) {
        Job job;
        lock.lock();
        try {
            job = registry.getLocked(id);
            JobTables.checkVerb(id, job.status(), JobVerb.CHANGE);
        } finally {
            lock.unlock();
        }
        Class<?> expected = job.kind().changeOptions();
        if (expected == null) {
            throw JobException.generic("Job type does not support change");
        }
        if (!expected.isInstance(options)) {
            throw new IllegalArgumentException("job '" + id + "' of type '" + job.type() + "' takes "
                    + expected.getSimpleName() + ", not " + (options == null ? "null" : options.getClass().getSimpleName()));
        }
        try {
            job.changeDriver(options);
        } catch (UnsupportedOperationException e) {
            throw JobException.generic("Job type does not support change");
        }
    }

    /**
     * Whether the current thread holds the job lock. For assertions: no driver hook and no
     * listener ever runs while it is held, so a hook or listener may check that this is false.
     */
    public boolean holdsJobLock() {
        return lock.isHeldByCurrentThread();
    }

    /**
     * Waits until every job thread started so far has ended (shutdown, tests).
     *
     * @return whether they all ended within {@code timeout}
     */
    public boolean awaitThreadsEnded(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Thread t : List.copyOf(liveThreads)) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !t.join(Duration.ofNanos(left))) {
                return false;
            }
        }
        return true;
    }

    /** Calls every listener; runs while the job lock's outbox is delivered (never under the job lock). */
    private final class FanOut implements JobListener {
        @Override
        public void statusChanged(Job job, JobStatus newStatus) {
            for (JobListener l : listeners) {
                l.statusChanged(job, newStatus);
            }
        }

        @Override
        public void infoChanged(Job job) {
            for (JobListener l : listeners) {
                l.infoChanged(job);
            }
        }

        @Override
        public void ready(Job job) {
            for (JobListener l : listeners) {
                l.ready(job);
            }
        }

        @Override
        public void finalized(Job job) {
            for (JobListener l : listeners) {
                l.finalized(job);
            }
        }
    }
}
