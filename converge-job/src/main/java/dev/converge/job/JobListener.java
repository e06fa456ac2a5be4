package dev.converge.job;

/**
 * Receives the engine's job events. Every method is called while the engine holds the job lock,
 * so all events of all jobs form one total order and each status change is announced exactly
 * once, in order. Implementations must only record or enqueue: never block, never call back
 * into the engine.
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
