package dev.converge.job;

import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The end of jobs, per transaction, as QEMU's job_completed / job_completed_txn_success /
 * job_completed_txn_abort / job_do_finalize: WAITING until the transaction ended, then PENDING
 * and finalize (prepare, commit, clean), or ABORTING and abort, clean; then CONCLUDED.
 * <p>
 * Runs only on the main loop, so drivers' prepare/commit/abort/clean run there. Holds the job
 * lock for each step's checks and transitions and releases it around every driver call.
 * Unlike QEMU, which waits for cancelled jobs synchronously, an aborting transaction moves on
 * when the last of its jobs' run() ended.
 */
final class TxnCompletion {
    private static final Logger LOG = LoggerFactory.getLogger(TxnCompletion.class);

    private final JobLock lock;
    private final JobRegistry registry;

    TxnCompletion(JobLock lock, JobRegistry registry) {
        this.lock = lock;
        this.registry = registry;
    }

    /** A job's run() ended (or the job was cancelled before it started). Main loop. */
    void runEnded(Job job, Throwable failure) {
        List<Job> victims;
        lock.lock();
        try {
            job.runEnded = true;
            job.endProcessed = true;
            boolean cancelledUnwind = failure instanceof JobCancelledException && job.isCancelledLocked();
            if (failure != null && !cancelledUnwind) {
                job.setErrorIfAbsentLocked(describe(failure));
            }
            if (job.isCancelledLocked()) {
                job.setCancelledErrorIfAbsentLocked();
            }
            if (job.errorLocked() != null) {
                job.transitionLocked(JobStatus.ABORTING);
                victims = startAbortLocked(job);
            } else {
                job.transitionLocked(JobStatus.WAITING);
                victims = List.of();
            }
        } finally {
            lock.unlock();
        }
        cancelHooks(victims);
        advance(job.txn());
    }

    /**
     * A job that already ended (WAITING or PENDING) was force-cancelled: its transaction aborts.
     * Main loop.
     */
    void cancelEnded(Job job) {
        List<Job> victims;
        lock.lock();
        try {
            job.setCancelledErrorIfAbsentLocked();
            job.transitionLocked(JobStatus.ABORTING);
            victims = startAbortLocked(job);
        } finally {
            lock.unlock();
        }
        cancelHooks(victims);
        advance(job.txn());
    }

    /** The user's job-finalize on a PENDING job: finalizes its whole transaction. Main loop. */
    void finalizeTxn(Job job) {
        JobTxn txn = job.txn();
        lock.lock();
        try {
            for (Job j : txn.jobs) {
                if (j.status() != JobStatus.PENDING) {
                    throw new IllegalStateException("finalize of '" + job.id() + "' while '" + j.id() + "' is "
                            + j.status().wireName() + "; engine bug");
                }
            }
            txn.finishing = true;
        } finally {
            lock.unlock();
        }
        doFinalize(txn);
    }

    /**
     * Marks the transaction aborting and force-cancels every other job in it (QEMU
     * job_completed_txn_abort); returns those whose driver cancel hook is still to be called.
     */
    private List<Job> startAbortLocked(Job cause) {
        assert lock.isHeldByCurrentThread();
        JobTxn txn = cause.txn();
        if (txn.aborting) {
            return List.of();
        }
        txn.aborting = true;
        txn.abortReason = "Transaction aborted because job '" + cause.id() + "' "
                + (cause.endsCancelledLocked() ? "was cancelled" : "failed");
        List<Job> victims = new ArrayList<>();
        for (Job other : txn.jobs) {
            if (other == cause) {
                continue;
            }
            forceCancelLocked(other, txn.abortReason);
            victims.add(other);
        }
        return victims;
    }

    private void forceCancelLocked(Job job, String reason) {
        assert lock.isHeldByCurrentThread();
        if (job.userPaused) {
            job.userPaused = false;
            job.pauseCount--;
        }
        job.cancelled = true;
        job.forceCancel = true;
        job.setErrorIfAbsentLocked(reason);
        if (!job.started) {
            job.runEnded = true; // it will never run
            job.endProcessed = true;
        }
        job.kickLocked();
    }

    private static void cancelHooks(List<Job> victims) {
        for (Job v : victims) {
            try {
                v.driver().cancel(true);
            } catch (RuntimeException e) {
                LOG.error("job '{}': driver cancel hook failed (driver bug)", v.id(), e);
            }
        }
    }

    /** Moves the transaction on once all its jobs' run() ended. Main loop, lock not held. */
    private void advance(JobTxn txn) {
        List<Job> jobs;
        lock.lock();
        try {
            for (Job j : txn.jobs) {
                // Not runEnded: a job thread sets that before its hand-over to us is processed.
                if (!j.endProcessed) {
                    return;
                }
            }
            if (txn.finishing) {
                return;
            }
            jobs = new ArrayList<>(txn.jobs);
            if (txn.aborting) {
                txn.finishing = true;
                for (Job j : jobs) {
                    j.setErrorIfAbsentLocked(txn.abortReason);
                    j.transitionLocked(JobStatus.ABORTING);
                }
            } else {
                for (Job j : jobs) {
                    j.transitionLocked(JobStatus.PENDING);
                }
                // QEMU job_txn_apply(job_needs_finalize): any manual job makes all wait for job-finalize.
                if (jobs.stream().anyMatch(j -> !j.autoFinalize())) {
                    return;
                }
                txn.finishing = true;
            }
        } finally {
            lock.unlock();
        }
        if (txn.aborting) {
            conclude(jobs, false);
        } else {
            doFinalize(txn);
        }
    }

    /** prepare() every job; then commit all, or abort all if any prepare failed. */
    private void doFinalize(JobTxn txn) {
        List<Job> jobs;
        lock.lock();
        try {
            jobs = new ArrayList<>(txn.jobs);
        } finally {
            lock.unlock();
        }
        Job failed = null;
        for (Job j : jobs) {
            try {
                j.driver().prepare();
            } catch (Exception e) {
                failed = j;
                lock.lock();
                try {
                    j.setErrorIfAbsentLocked(describe(e));
                } finally {
                    lock.unlock();
                }
                break;
            }
        }
        if (failed == null) {
            conclude(jobs, true);
            return;
        }
        List<Job> victims;
        lock.lock();
        try {
            failed.transitionLocked(JobStatus.ABORTING);
            victims = startAbortLocked(failed);
            for (Job j : jobs) {
                j.transitionLocked(JobStatus.ABORTING);
            }
        } finally {
            lock.unlock();
        }
        cancelHooks(victims);
        conclude(jobs, false);
    }

    /**
     * Decides every job's {@link JobOutcome}, then for each: exactly one of commit or abort, then
     * clean, then CONCLUDED (and NULL when auto-dismissed).
     */
    private void conclude(List<Job> jobs, boolean commit) {
        lock.lock();
        try {
            for (Job j : jobs) {
                j.decideOutcomeLocked(commit);
            }
        } finally {
            lock.unlock();
        }
        for (Job j : jobs) {
            JobDriver<?, ?> d = j.driver();
            hook(j, commit ? "commit" : "abort", commit ? d::commit : d::abort);
            hook(j, "clean", d::clean);
            lock.lock();
            try {
                j.finalizedLocked();
                j.transitionLocked(JobStatus.CONCLUDED);
                if (j.autoDismiss() || !j.started) {
                    registry.dismissLocked(j);
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /** Commit, abort and clean must not fail; if one does, it is a driver bug: log it and go on, so clean still runs. */
    private static void hook(Job j, String name, Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            LOG.error("job '{}': driver {} failed (driver bug)", j.id(), name, e);
        }
    }

    /** The error text of a failure: its message, or its class when it has none. */
    static String describe(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }
}
