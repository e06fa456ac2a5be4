package dev.converge.job;

/**
 * Receives the engine's job events. Events are posted under the job lock, so all events of all
 * jobs form one total order and each status change is announced exactly once, in order; they
 * are delivered in that order after the lock is released, never while it is held (see
 * {@code JobLock}). So a listener may read the engine ({@link JobEngine#query(Job)}, the job's
 * accessors), but it runs on whichever thread caused the event (the main loop or a job's
 * thread) while the next events wait: it must not block, and should only record, enqueue or
 * emit. By the time an event is delivered the job may have changed further; the event's own
 * arguments say what it announces.
 */
public interface JobListener {
    /** {@code job} just moved to {@code newStatus} (also CREATED at creation and NULL at dismiss). */
    void statusChanged(Job job, JobStatus newStatus);

    /** The driver announced that its type-specific info changed. */
    default void infoChanged(Job job) {
    }

    /** The job became READY (also announced by {@link #statusChanged}); e.g. for BLOCK_JOB_READY. */
    default void ready(Job job) {
    }

    /**
     * Commit or abort and clean ran; the job is about to move to CONCLUDED. {@link Job#isCancelled()}
     * and {@link Job#error()} tell how it ended (BLOCK_JOB_COMPLETED or BLOCK_JOB_CANCELLED);
     * {@link Job#wasStarted()} is false for a job cancelled before it started.
     */
    default void finalized(Job job) {
    }
}
