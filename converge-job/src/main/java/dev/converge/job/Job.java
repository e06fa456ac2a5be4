package dev.converge.job;

import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.locks.Condition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One job: its identity, its status and the generic state the engine keeps for it. Others read
 * it through the public accessors; only the engine changes it, always under the one job lock
 * (QEMU's job_mutex), in methods whose names end in {@code Locked}.
 */
public final class Job {
    private static final Logger LOG = LoggerFactory.getLogger(Job.class);

    /** Error of a job that was cancelled and had no error of its own (QEMU: strerror(ECANCELED)). */
    static final String CANCELED = "Operation canceled";

    private final String id;
    private final JobKind<?, ?> kind;
    private final JobDriver<?, ?> driver;
    private final JobTxn txn;
    private final boolean autoFinalize;
    private final boolean autoDismiss;
    /** The engine's job lock. */
    final JobLock lock;
    /** Signalled (under {@link #lock}) to wake the job's thread from a sleep or a pause point. */
    final Condition wakeup;
    private final JobListener listener;

    /**
     * The status; written only under {@link #lock} through {@link #transitionLocked}, volatile so
     * that {@link #status()} may read it without the lock. Arrows (see {@link JobTables}):
     * UNDEFINED→CREATED at creation; CREATED→RUNNING at start (main loop); RUNNING⇄PAUSED and
     * READY⇄STANDBY at pause points (job thread); RUNNING→READY by setReady (job thread);
     * RUNNING/READY→WAITING when run() succeeded, →ABORTING when it failed or was cancelled
     * (main loop); WAITING→PENDING when the whole transaction ended; PENDING→CONCLUDED after
     * commit; anything ended →ABORTING when the transaction aborts, ABORTING→CONCLUDED after
     * abort; CONCLUDED→NULL at dismiss; CREATED→ABORTING on cancel before start. The status
     * never goes back past WAITING.
     */
    private volatile JobStatus status = JobStatus.UNDEFINED;

    /** Pause requests, user's and internal (QEMU pause_count); guarded by lock. */
    int pauseCount;
    /** Whether the user paused it (QEMU user_paused); at most one user pause counts. Guarded by lock. */
    boolean userPaused;
    /** A cancel was requested (QEMU cancelled); guarded by lock. */
    boolean cancelled;
    /** The cancel is a force cancel (QEMU force_cancel); never reset. Guarded by lock. */
    boolean forceCancel;
    /** A thread was started for run(); guarded by lock. */
    boolean started;
    /**
     * run() ended, or will never run (QEMU deferred_to_main_loop): set by the job thread as it
     * hands over to the main loop; decides whether a soft cancel is still heard. Guarded by lock.
     */
    boolean runEnded;
    /**
     * The main loop processed the end of run() (the job is WAITING or ABORTING, or will never
     * run); only then does the job count as ended for its transaction. Guarded by lock.
     */
    boolean endProcessed;
    /** The user's complete was accepted; guarded by lock. */
    boolean completeRequested;
    /** A wake-up is pending for the next sleep; guarded by lock. */
    boolean kicked;
    /**
     * Whether the job's end is a cancel of its own: a force cancel reached it while it had no
     * error, and "Operation canceled" became its error. Guarded by lock.
     */
    private boolean cancelledOwnError;
    /** How it ended, once decided (before commit or abort); guarded by lock. */
    private JobOutcome outcome;
    /** The first error, never replaced; guarded by lock. */
    private String error;
    /** Work done; only grows. Guarded by lock. */
    private long current;
    /** Estimated current + remaining; never below current. Guarded by lock. */
    private long total;
    /** Speed limit in bytes per second; guarded by lock. */
    long speed;
    /** The limiter for {@link #speed}; guarded by lock. */
    final RateLimit rateLimit = new RateLimit();
    /** The thread running run(), once started; guarded by lock. */
    Thread thread;

    <C extends Record, I extends Record> Job(String id, JobKind<C, I> kind, JobDriver<C, I> driver, JobTxn txn,
            JobOptions options, JobLock lock, JobListener listener) {
        this.id = Objects.requireNonNull(id);
        this.kind = Objects.requireNonNull(kind);
        this.driver = Objects.requireNonNull(driver);
        this.txn = Objects.requireNonNull(txn);
        this.autoFinalize = options.autoFinalize();
        this.autoDismiss = options.autoDismiss();
        this.lock = lock;
        this.wakeup = lock.newCondition();
        this.listener = listener;
        this.speed = options.speed();
        this.rateLimit.setSpeed(options.speed());
    }

    /** The job's id, unique among live jobs. */
    public String id() {
        return id;
    }

    /** The job type, e.g. "mirror" or "migration". */
    public String type() {
        return kind.type();
    }

    /** The job's kind: its type and the records its driver speaks. */
    public JobKind<?, ?> kind() {
        return kind;
    }

    /** The current status (a volatile read; may change right after). */
    public JobStatus status() {
        return status;
    }

    public boolean autoFinalize() {
        return autoFinalize;
    }

    public boolean autoDismiss() {
        return autoDismiss;
    }

    JobDriver<?, ?> driver() {
        return driver;
    }

    /** The driver's change hook with options of the kind's change record (checked by the engine). */
    @SuppressWarnings("unchecked")
    void changeDriver(Record options) {
        ((JobDriver<Record, ?>) driver).change(options);
    }

    JobTxn txn() {
        return txn;
    }

    /** The first error (failure, or why it was cancelled), if any. */
    public Optional<String> error() {
        lock.lock();
        try {
            return Optional.ofNullable(error);
        } finally {
            lock.unlock();
        }
    }

    /** How the job ended, once its transaction decided (before its commit or abort hook runs). */
    public Optional<JobOutcome> outcome() {
        lock.lock();
        try {
            return Optional.ofNullable(outcome);
        } finally {
            lock.unlock();
        }
    }

    /** Whether the job is force-cancelled (it ends as cancelled). */
    public boolean isCancelled() {
        lock.lock();
        try {
            return isCancelledLocked();
        } finally {
            lock.unlock();
        }
    }

    /** Whether any cancel (soft or force) was accepted. */
    public boolean cancelRequested() {
        lock.lock();
        try {
            return cancelled;
        } finally {
            lock.unlock();
        }
    }

    /** Whether its run() was ever started (false for a job cancelled in CREATED). */
    public boolean wasStarted() {
        lock.lock();
        try {
            return started;
        } finally {
            lock.unlock();
        }
    }

    /** The speed limit in bytes per second, 0 = unlimited. */
    public long speed() {
        lock.lock();
        try {
            return speed;
        } finally {
            lock.unlock();
        }
    }

    boolean isCancelledLocked() {
        assert lock.isHeldByCurrentThread();
        return cancelled && forceCancel;
    }

    boolean shouldPauseLocked() {
        assert lock.isHeldByCurrentThread();
        return pauseCount > 0;
    }

    String errorLocked() {
        assert lock.isHeldByCurrentThread();
        return error;
    }

    /**
     * A force cancel ended the job: keeps "Operation canceled" as its error unless it has one
     * (then its end is that error's, not the cancel's).
     */
    void setCancelledErrorIfAbsentLocked() {
        assert lock.isHeldByCurrentThread();
        if (error == null) {
            error = CANCELED;
            cancelledOwnError = true;
        }
    }

    /** Whether the job's end so far is its own cancel (see {@link JobOutcome#CANCELLED}). */
    boolean endsCancelledLocked() {
        assert lock.isHeldByCurrentThread();
        return cancelledOwnError;
    }

    /** Decides the outcome: committed, or aborted as its own cancel or as a failure. */
    void decideOutcomeLocked(boolean committed) {
        assert lock.isHeldByCurrentThread();
        outcome = committed ? JobOutcome.COMPLETED : cancelledOwnError ? JobOutcome.CANCELLED : JobOutcome.FAILED;
    }

    /** Keeps {@code message} as the error unless one is already kept: the first error wins. */
    void setErrorIfAbsentLocked(String message) {
        assert lock.isHeldByCurrentThread();
        if (error == null) {
            error = Objects.requireNonNull(message);
        }
    }

    long currentLocked() {
        assert lock.isHeldByCurrentThread();
        return current;
    }

    long totalLocked() {
        assert lock.isHeldByCurrentThread();
        return total;
    }

    void progressDoneLocked(long n) {
        assert lock.isHeldByCurrentThread();
        if (n < 0) {
            throw new IllegalArgumentException("progress done: " + n + " (expected: >= 0)");
        }
        current = Math.addExact(current, n);
        total = Math.max(total, current);
    }

    void progressRemainingLocked(long n) {
        assert lock.isHeldByCurrentThread();
        if (n < 0) {
            throw new IllegalArgumentException("progress remaining: " + n + " (expected: >= 0)");
        }
        total = Math.addExact(current, n);
    }

    void progressIncreaseRemainingLocked(long delta) {
        assert lock.isHeldByCurrentThread();
        if (delta < 0) {
            throw new IllegalArgumentException("progress delta: " + delta + " (expected: >= 0)");
        }
        total = Math.addExact(total, delta);
    }

    /** Wakes the job's thread (QEMU job_enter); a wake that finds no sleeper is kept for the next sleep. */
    void kickLocked() {
        assert lock.isHeldByCurrentThread();
        kicked = true;
        wakeup.signalAll();
    }

    /**
     * The one transition chokepoint: checks the arrow against the table (an illegal one is a bug),
     * sets the status and posts its announcement to the lock's outbox, so announcements are in
     * order and exactly one per change; they are delivered once the lock is released.
     */
    void transitionLocked(JobStatus next) {
        assert lock.isHeldByCurrentThread();
        JobStatus prev = status;
        JobTables.checkTransition(id, prev, next);
        if (prev == next) {
            return; // ABORTING→ABORTING: allowed, nothing changes, nothing to announce
        }
        status = next;
        LOG.debug("job '{}': {} -> {}", id, prev.wireName(), next.wireName());
        lock.post(() -> listener.statusChanged(this, next));
        if (next == JobStatus.READY && prev == JobStatus.RUNNING) {
            lock.post(() -> listener.ready(this));
        }
    }

    /** Posts JobListener#infoChanged. */
    void infoChangedLocked() {
        assert lock.isHeldByCurrentThread();
        lock.post(() -> listener.infoChanged(this));
    }

    /** Posts JobListener#finalized. */
    void finalizedLocked() {
        assert lock.isHeldByCurrentThread();
        lock.post(() -> listener.finalized(this));
    }

    @Override
    public String toString() {
        return "Job[" + id + ", " + kind.type() + ", " + status.wireName() + "]";
    }
}
