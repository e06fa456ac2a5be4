package dev.converge.job;

/**
 * Thrown on a job's own thread by {@link JobContext#checkpoint()} (and the sleeps built on it)
 * once the job is force-cancelled, so that run() unwinds promptly. A driver should let it
 * propagate (cleaning up with finally); run() ending with it counts as cancelled, not failed.
 */
public final class JobCancelledException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public JobCancelledException(String jobId) {
        super("Job '" + jobId + "' was cancelled");
    }
}
