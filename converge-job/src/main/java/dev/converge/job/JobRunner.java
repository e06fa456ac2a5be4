package dev.converge.job;

import java.time.Duration;
import java.util.concurrent.Executor;

/**
 * Runs one job's {@link JobDriver#run} on its own virtual thread and is the {@link JobContext}
 * it uses. Holds the job lock only briefly: never across a driver call or while parked (a
 * condition wait releases it), and releases it before parking once it changed the status, so
 * that the change is announced (see {@link JobLock}). When run() ends, marks the job ended and hands completion to the
 * main loop.
 */
final class JobRunner implements JobContext, Runnable {
    private final Job job;
    private final Executor mainLoop;
    private final TxnCompletion completion;

    JobRunner(Job job, Executor mainLoop, TxnCompletion completion) {
        this.job = job;
        this.mainLoop = mainLoop;
        this.completion = completion;
    }

    @Override
    public void run() {
        Throwable failure = null;
        try {
            checkpoint(); // as QEMU's job_co_entry: a pause (or cancel) before start takes effect first
            job.driver().run(this);
        } catch (Throwable t) {
            failure = t;
        } finally {
            job.lock.lock();
            try {
                job.runEnded = true;
            } finally {
                job.lock.unlock();
            }
            Throwable f = failure;
            mainLoop.execute(() -> completion.runEnded(job, f));
        }
    }

    @Override
    public String id() {
        return job.id();
    }

    @Override
    public void checkpoint() {
        job.lock.lock();
        try {
            if (job.isCancelledLocked()) {
                throw new JobCancelledException(job.id());
            }
            if (!job.shouldPauseLocked()) {
                return;
            }
        } finally {
            job.lock.unlock();
        }
        job.driver().pause();
        boolean cancelled;
        job.lock.lock();
        try {
            JobStatus resumeTo = null;
            while (job.shouldPauseLocked() && !job.isCancelledLocked()) {
                if (resumeTo == null) {
                    resumeTo = job.status();
                    job.transitionLocked(resumeTo == JobStatus.READY ? JobStatus.STANDBY : JobStatus.PAUSED);
                    // Announce the pause before parking (a condition wait would keep it in the
                    // outbox), then look again: a resume may have come meanwhile.
                    job.lock.unlock();
                    job.lock.lock();
                    continue;
                }
                job.wakeup.awaitUninterruptibly();
            }
            if (resumeTo != null) {
                job.transitionLocked(resumeTo);
            }
            cancelled = job.isCancelledLocked();
        } finally {
            job.lock.unlock();
        }
        job.driver().resume();
        if (cancelled) {
            throw new JobCancelledException(job.id());
        }
    }

    @Override
    public boolean isCancelled() {
        return job.isCancelled();
    }

    @Override
    public boolean cancelRequested() {
        return job.cancelRequested();
    }

    @Override
    public void sleep(Duration d) {
        long nanos = d.toNanos();
        job.lock.lock();
        try {
            long deadline = System.nanoTime() + nanos;
            while (!job.kicked && !job.shouldPauseLocked() && !job.isCancelledLocked()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                job.wakeup.awaitNanos(left);
            }
            job.kicked = false;
        } catch (InterruptedException e) {
            // Nobody interrupts job threads; keep the flag for the driver and end the sleep early.
            Thread.currentThread().interrupt();
        } finally {
            job.lock.unlock();
        }
        checkpoint();
    }

    @Override
    public void wake() {
        job.lock.lock();
        try {
            job.kickLocked();
        } finally {
            job.lock.unlock();
        }
    }

    @Override
    public void rateLimit(long bytes) {
        job.lock.lock();
        try {
            job.rateLimit.calculateDelay(bytes, System.nanoTime());
        } finally {
            job.lock.unlock();
        }
        // As QEMU: sleep at least once, and recompute after every (possibly early) wake-up,
        // because the speed may have changed meanwhile.
        long delay;
        do {
            job.lock.lock();
            try {
                delay = job.rateLimit.calculateDelay(0, System.nanoTime());
            } finally {
                job.lock.unlock();
            }
            sleep(Duration.ofNanos(delay));
        } while (delay > 0 && !isCancelled());
    }

    @Override
    public void setReady() {
        job.lock.lock();
        try {
            if (job.status() != JobStatus.RUNNING) {
                throw new IllegalStateException("job '" + job.id() + "': setReady in status "
                        + job.status().wireName() + " (expected: running); driver bug");
            }
            job.transitionLocked(JobStatus.READY);
        } finally {
            job.lock.unlock();
        }
    }

    @Override
    public boolean isReady() {
        JobStatus s = job.status();
        return s == JobStatus.READY || s == JobStatus.STANDBY;
    }

    @Override
    public boolean completeRequested() {
        job.lock.lock();
        try {
            return job.completeRequested;
        } finally {
            job.lock.unlock();
        }
    }

    @Override
    public void progressDone(long n) {
        job.lock.lock();
        try {
            job.progressDoneLocked(n);
        } finally {
            job.lock.unlock();
        }
    }

    @Override
    public void progressRemaining(long n) {
        job.lock.lock();
        try {
            job.progressRemainingLocked(n);
        } finally {
            job.lock.unlock();
        }
    }

    @Override
    public void progressIncreaseRemaining(long delta) {
        job.lock.lock();
        try {
            job.progressIncreaseRemainingLocked(delta);
        } finally {
            job.lock.unlock();
        }
    }

    @Override
    public void infoChanged() {
        job.lock.lock();
        try {
            job.infoChangedLocked();
        } finally {
            job.lock.unlock();
        }
    }

}
