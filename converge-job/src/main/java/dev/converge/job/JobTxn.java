package dev.converge.job;

import java.util.ArrayList;
import java.util.List;

/**
 * A transaction: jobs that finish together. Every job belongs to exactly one (its own unless
 * {@link JobOptions#txn()} names a shared one). A job whose run() ended waits (WAITING) until
 * every job of its transaction ended; then all go PENDING and are finalized together, or, if
 * any failed or was cancelled, the others are force-cancelled and all abort.
 * <p>
 * Create one with {@code new JobTxn()} and pass it to each job's options; jobs join at creation,
 * before any of them ends. A transaction may have a switchover leader (see
 * {@link GroupedSwitchover}). All fields are guarded by the engine's job lock.
 */
public final class JobTxn {
    /** The jobs, in creation order; guarded by the job lock. */
    final List<Job> jobs = new ArrayList<>();
    /** Set once a job failed or was cancelled: the transaction rolls back. Guarded by the job lock. */
    boolean aborting;
    /** Set once the final phase (commit or abort of all jobs) started. Guarded by the job lock. */
    boolean finishing;
    /** The error given to the jobs cancelled because of another job's failure. Guarded by the job lock. */
    String abortReason;
    /**
     * The job that switches over for the whole transaction, or null: its participants (the
     * other jobs whose driver is a {@link SwitchoverParticipant}) finish when it says so, not
     * when their user does. Set once by {@link JobEngine#leadSwitchover}. Guarded by the job lock.
     */
    Job leader;

    public JobTxn() {
    }
}
