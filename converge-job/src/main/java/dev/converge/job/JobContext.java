package dev.converge.job;

import java.time.Duration;

/**
 * What {@link JobDriver#run} uses on the job's thread to cooperate with the engine: pause points,
 * sleeps, rate limiting, readiness and progress. Unless said otherwise, call these only on the
 * job's own thread.
 */
public interface JobContext {
    /** The job's id (for logging). */
    String id();

    /**
     * A pause point: returns at once unless the job should pause; then parks, moving
     * RUNNING→PAUSED or READY→STANDBY, calling {@link JobDriver#pause()} and
     * {@link JobDriver#resume()}, until resumed, and moves back.
     *
     * @throws JobCancelledException promptly when the job is force-cancelled (also while parked)
     */
    void checkpoint();

    /** Whether the job is force-cancelled: run() should stop at once (QEMU job_is_cancelled). */
    boolean isCancelled();

    /** Whether any cancel was requested, soft or force (QEMU job_cancel_requested). */
    boolean cancelRequested();

    /**
     * Sleeps up to {@code d}, returning early when the job is paused, resumed, cancelled,
     * completed, its speed raised, or {@link #wake()} is called; then passes a pause point.
     *
     * @throws JobCancelledException when force-cancelled
     */
    void sleep(Duration d);

    /**
     * Wakes the job's thread from {@link #sleep} (or makes its next sleep return at once).
     * May be called from any thread, e.g. when I/O finished or new dirty data arrived.
     */
    void wake();

    /**
     * Accounts {@code bytes} just done against the speed limit and sleeps as long as the speed
     * requires (at once when unlimited), waking early to honour pause and force cancel.
     *
     * @throws JobCancelledException when force-cancelled
     */
    void rateLimit(long bytes);

    /** RUNNING→READY: the job converged. Call once; a second call is a driver bug. */
    void setReady();

    /** Whether the job is READY (or STANDBY). */
    boolean isReady();

    /** Whether the user's job-complete was accepted (see {@link JobDriver#complete()}). */
    boolean completeRequested();

    /** Adds {@code n ≥ 0} units of work done; current progress only grows. */
    void progressDone(long n);

    /** Sets the estimate of the work remaining: total = current + {@code n}. */
    void progressRemaining(long n);

    /** Adds {@code delta ≥ 0} to the estimated total (new dirty data). */
    void progressIncreaseRemaining(long delta);

    /** Announces that {@link JobDriver#info()} changed meaningfully (JOB_INFO_CHANGE). */
    void infoChanged();
}
