package dev.converge.block.mirror;

import dev.converge.block.BlockIOException;
import dev.converge.block.Errno;
import dev.converge.job.JobContext;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The I/O error policy of one copying block job (QEMU's block_job_error_action), shared by the
 * mirror and the backup: on-source-error for failed reads, on-target-error for failed writes.
 * <ul>
 * <li>Every error is announced (BLOCK_JOB_ERROR, through the {@link Reporter}) with the action
 *     the policy decides.</li>
 * <li>report: the first such error is kept; the job fails with it ({@link #failure}).</li>
 * <li>stop: the io-status becomes nospace (ENOSPC) or failed, the main loop pauses the job as a
 *     user pause; the job waits for that, then parks at its pause point ({@link #awaitStop});
 *     resuming clears the io-status ({@link #resumed}) and the job retries what is left.</li>
 * <li>ignore: nothing more; the failed range stays to copy and is retried.</li>
 * </ul>
 * Threads: {@link #onError} from any I/O thread, the rest from the job's thread; {@link #lock}
 * is never held across a call out.
 */
public final class BlockJobErrors {
    private static final Logger LOG = LoggerFactory.getLogger(BlockJobErrors.class);

    /** Announces error actions (BLOCK_JOB_ERROR) and applies a stop, on the main loop. */
    @FunctionalInterface
    public interface Reporter {
        /**
         * Called on an I/O thread for every error; the returned future completes once the main
         * loop announced it (and, for {@link BlockErrorAction#STOP}, paused the job).
         */
        CompletableFuture<Void> onError(String jobId, boolean read, BlockErrorAction action);
    }

    private final String jobId;
    private final BlockdevOnError onSourceError;
    private final BlockdevOnError onTargetError;
    private final Reporter reporter;
    private final ReentrantLock lock = new ReentrantLock();
    /** The first error whose action was report; the job fails with it. Guarded by {@link #lock}. */
    private BlockIOException failure;
    /** A stop being applied on the main loop; the job waits for it, then parks. Guarded by {@link #lock}. */
    private CompletableFuture<Void> pendingStop;
    /** QEMU's io-status: ok, failed, nospace. Volatile: for query-block-jobs. */
    private volatile String ioStatus = "ok";

    public BlockJobErrors(String jobId, BlockdevOnError onSourceError, BlockdevOnError onTargetError,
            Reporter reporter) {
        this.jobId = Objects.requireNonNull(jobId);
        this.onSourceError = Objects.requireNonNull(onSourceError);
        this.onTargetError = Objects.requireNonNull(onTargetError);
        this.reporter = Objects.requireNonNull(reporter);
    }

    /** Applies the policy to a failed read (source) or write (target) and announces it; any thread. */
    public BlockErrorAction onError(boolean read, BlockIOException e) {
        BlockdevOnError policy = read ? onSourceError : onTargetError;
        BlockErrorAction action = policy.decide(e.errno());
        LOG.debug("job '{}': {} error ({}), action {}", jobId, read ? "read" : "write", e.getMessage(),
                action.wireName());
        if (action == BlockErrorAction.STOP) {
            ioStatus = e.errno() == Errno.ENOSPC.code() ? "nospace" : "failed";
        }
        CompletableFuture<Void> announced = reporter.onError(jobId, read, action);
        lock.lock();
        try {
            if (action == BlockErrorAction.REPORT && failure == null) {
                failure = e;
            } else if (action == BlockErrorAction.STOP && pendingStop == null) {
                pendingStop = announced;
            }
        } finally {
            lock.unlock();
        }
        return action;
    }

    /** The error the job fails with, or null. */
    public BlockIOException failure() {
        lock.lock();
        try {
            return failure;
        } finally {
            lock.unlock();
        }
    }

    /** Whether the job must not start new copies: it fails, or a stop is being applied. */
    public boolean blocking() {
        lock.lock();
        try {
            return failure != null || pendingStop != null;
        } finally {
            lock.unlock();
        }
    }

    /**
     * When an error asked for a stop: waits until the main loop paused the job, then parks at
     * the job's pause point (the stop is a user pause: job-resume or block-job-resume go on).
     * Job thread; returns at once without a stop.
     */
    public void awaitStop(JobContext ctx) {
        CompletableFuture<Void> stop;
        lock.lock();
        try {
            stop = pendingStop;
        } finally {
            lock.unlock();
        }
        if (stop == null) {
            return;
        }
        try {
            stop.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            LOG.warn("job '{}': stop after an error was not applied", jobId, e.getCause());
        }
        lock.lock();
        try {
            pendingStop = null;
        } finally {
            lock.unlock();
        }
        ctx.checkpoint(); // parks here; resuming retries
    }

    /** QEMU's io-status: ok, failed or nospace. */
    public String ioStatus() {
        return ioStatus;
    }

    /** The job left its pause point: the io-status is ok again. */
    public void resumed() {
        ioStatus = "ok";
    }
}
