package dev.converge.block.backup;

import dev.converge.block.CopyThreads;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Errno;
import dev.converge.block.Extent;
import dev.converge.block.mirror.BlockJobErrors;
import dev.converge.block.mirror.MirrorSyncMode;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import dev.converge.job.JobKind;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backup job's driver (QEMU's block/backup.c): a point-in-time copy of a source node to a
 * target node, taken with copy-before-write.
 *
 * <h2>How data moves</h2>
 * <ul>
 * <li>{@link Backups} inserts the {@link BackupFilterNode} above the source when the job is
 *     created: from then on a guest write first puts the old data of the clusters it touches on
 *     the target ({@link BlockCopy#copyBeforeWrite}). The point in time is the job's creation.</li>
 * <li>run() copies every cluster still to copy, in chunks of up to x-perf's max-chunk (1 MiB),
 *     with up to max-workers (at most 16) copies in flight on the job's platform copy threads
 *     (a pread/pwrite through FFM pins a virtual thread's carrier). Zero ranges are written as
 *     zeroes; with sync=top the unallocated ones are dropped first.</li>
 * <li>sync=none copies nothing itself: the job waits, serving copy-before-write, until it is
 *     cancelled (fleecing: a client reads the point in time through a snapshot-access node).</li>
 * <li>A backup never goes READY: it ends when everything is copied (a cancel aborts it, always
 *     as a force cancel, as QEMU's).</li>
 * </ul>
 *
 * <h2>Errors</h2>
 * A failed copy of the job's own marks its clusters to copy again and applies on-source-error
 * or on-target-error through {@link BlockJobErrors}, as the mirror's (report fails the job, ignore
 * retries, stop pauses it as a user pause), each announced (BLOCK_JOB_ERROR). A failed copy-before-write fails the
 * guest's write (QEMU's default on-cbw-error, break-guest-write).
 *
 * <h2>End</h2>
 * commit/abort settle the user's bitmap by its mode ({@link SyncBitmap}); clean puts the source's
 * users back on the source and removes the filter (a snapshot-access node above it then fails
 * its reads).
 *
 * <h2>Threads</h2>
 * run() on the job's thread, copies on its copy threads, copy-before-write on the writers'
 * threads, the verbs and commit/abort/clean on the main loop; the copy state has its own lock
 * ({@link BlockCopy}), never held across I/O or a call into the engine.
 */
public final class BackupJob implements JobDriver<Record, Record>, dev.converge.block.BlockJob {
    /** The backup job kind: type {@code backup}, no job-change options, no members of its own. */
    public static final JobKind<Record, Record> KIND = JobKind.plain("backup");

    private static final Logger LOG = LoggerFactory.getLogger(BackupJob.class);
    /** How long a sync=none job sleeps between progress reports (copy-before-write wakes nothing). */
    private static final Duration NONE_SLICE = Duration.ofMillis(200);
    /** How long the job waits for a copy in flight before it looks again. */
    private static final long WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final String id;
    private final BlockGraph graph;
    private final BlockNode source;
    private final BlockNode target;
    private final BackupFilterNode filter;
    private final BlockCopy copy;
    private final BackupOptions options;
    /** The frozen user bitmap, or null. */
    private final SyncBitmap syncBitmap;
    /** on-source-error / on-target-error (shared with the mirror). */
    private final BlockJobErrors errors;
    private final ThreadPoolExecutor copyThreads;
    /** One per copy in flight; a copy gives its slot back after its error, if any, was recorded. */
    private final Semaphore slots;
    private final int threads;
    /** Bytes copied and not yet reported as progress. */
    private final AtomicLong reported = new AtomicLong();

    /** The job's context once run() started; volatile for copy threads that wake it. */
    private volatile JobContext ctx;
    /** Whether the job thread is working (not sleeping or parked). */
    private volatile boolean working;
    /** Whether run() succeeded; decides the bitmap in abort (mode always). Job thread, then main loop. */
    private volatile boolean succeeded;
    /** Whether clean ran. Main loop only. */
    private boolean cleaned;

    BackupJob(String id, BlockGraph graph, BlockNode source, BlockNode target, BackupFilterNode filter, BlockCopy copy,
            BackupOptions options, SyncBitmap syncBitmap, BlockJobErrors.Reporter reporter) {
        this.id = Objects.requireNonNull(id);
        this.graph = Objects.requireNonNull(graph);
        this.source = Objects.requireNonNull(source);
        this.target = Objects.requireNonNull(target);
        this.filter = Objects.requireNonNull(filter);
        this.copy = Objects.requireNonNull(copy);
        this.options = Objects.requireNonNull(options);
        this.syncBitmap = syncBitmap;
        this.errors = new BlockJobErrors(id, options.onSourceError(), options.onTargetError(), reporter);
        this.threads = options.perf().threads();
        this.slots = new Semaphore(threads);
        this.copyThreads = CopyThreads.pool(id, threads, Duration.ofSeconds(5));
    }

    @Override
    public String id() {
        return id;
    }

    public BlockNode source() {
        return source;
    }

    public BlockNode target() {
        return target;
    }

    public BackupFilterNode filter() {
        return filter;
    }

    /** QEMU's io-status of the job: ok, failed, nospace. */
    @Override
    public String ioStatus() {
        return errors.ioStatus();
    }

    /** Whether the job thread is doing work now. */
    @Override
    public boolean isBusy() {
        return working;
    }

    /** Bytes copied so far (the job's own copies and copy-before-write), data and zeroes. */
    public long copiedBytes() {
        return copy.copiedBytes();
    }

    /** Bytes read from the source and written to the target (zero ranges not counted). */
    public long dataBytes() {
        return copy.dataBytes();
    }

    /** Bytes copied by guest writes' copy-before-write. */
    public long copyBeforeWriteBytes() {
        return copy.cbwBytes();
    }

    // ---------------------------------------------------------------- run

    @Override
    public void run(JobContext ctx) throws Exception {
        this.ctx = ctx;
        working = true;
        try {
            if (options.sync() == MirrorSyncMode.NONE) {
                ctx.progressRemaining(copy.size());
                for (;;) {
                    working = false;
                    ctx.sleep(NONE_SLICE); // throws once cancelled: every cancel of a backup is a force cancel
                    working = true;
                    reportProgress(ctx);
                }
            }
            if (options.sync() == MirrorSyncMode.TOP) {
                dropUnallocated(ctx);
            }
            ctx.progressRemaining(copy.remaining());
            copyLoop(ctx);
            // No flush of the target at the end, as QEMU's backup: making it durable is the
            // user's (blockdev-del, or a flush through an export), and a flush of gigabytes
            // would add seconds to every backup.
            succeeded = true;
        } finally {
            copy.awaitIdle();
            working = false;
        }
    }

    /** sync=top: clusters the source's top layer does not hold are not copied (QEMU's skip-unallocated). */
    private void dropUnallocated(JobContext ctx) throws BlockIOException {
        long size = copy.size();
        long window = 64L << 20;
        for (long off = 0; off < size; off += window) {
            ctx.checkpoint();
            for (Extent e : filter.fileEdge().blockStatus(off, Math.min(window, size - off))) {
                if (!e.isAllocated()) {
                    copy.toCopy().resetDirty(e.offset(), e.length());
                }
            }
        }
    }

    private void copyLoop(JobContext ctx) throws Exception {
        long chunk = options.perf().chunk(copy.cluster());
        long cursor = 0;
        for (;;) {
            ctx.checkpoint();
            errors.awaitStop(ctx); // a stop parks here; resuming retries what is left
            BlockIOException failure = errors.failure();
            if (failure != null) {
                copy.awaitIdle();
                throw new BackupException(Errno.describe(failure.errno()), failure);
            }
            reportProgress(ctx);
            if (copy.done() && slots.availablePermits() == threads) {
                // every copy ended and recorded its error: a failed one may have been copied again
                // meanwhile, but a reported error still fails the job
                if (errors.blocking()) {
                    continue;
                }
                return;
            }
            if (errors.blocking() || !slots.tryAcquire(WAIT_NANOS, TimeUnit.NANOSECONDS)) {
                continue; // an error came in meanwhile: the top of the loop applies it
            }
            BlockCopy.Claim c = copy.claimNext(cursor, chunk);
            if (c == null && cursor > 0) {
                cursor = 0;
                c = copy.claimNext(0, chunk);
            }
            if (c == null) {
                slots.release();
                // what is left is in flight (a guest's copy-before-write or ours): wait for it
                copy.awaitRelease(WAIT_NANOS);
                continue;
            }
            long bytes = (c.lastExcl() - c.first()) * copy.cluster();
            cursor = c.lastExcl() * copy.cluster();
            BlockCopy.Claim claim = c;
            copyThreads.execute(() -> {
                try {
                    copy.copy(claim, false);
                } catch (BlockCopy.CopyException e) {
                    errors.onError(e.read(), e.io()); // its clusters are to copy again
                } catch (RuntimeException | Error e) {
                    LOG.error("backup job '{}': copy failed (bug)", id, e);
                    errors.onError(false, new BlockIOException(Errno.EIO, String.valueOf(e), e));
                } finally {
                    slots.release();
                    JobContext jc = this.ctx;
                    if (jc != null) {
                        jc.wake();
                    }
                }
            });
            ctx.rateLimit(bytes);
        }
    }

    private void reportProgress(JobContext ctx) {
        long now = copy.copiedBytes();
        long before = reported.getAndSet(now);
        if (now > before) {
            ctx.progressDone(now - before);
        }
        if (options.sync() != MirrorSyncMode.NONE) {
            ctx.progressRemaining(copy.remaining());
        }
    }

    // ---------------------------------------------------------------- verbs

    /** Parks only with nothing of its own in flight (QEMU's paused job does no I/O). */
    @Override
    public void pause() {
        working = false;
        copy.awaitIdle();
    }

    @Override
    public void resume() {
        errors.resumed();
        working = true;
    }

    // speed: the engine's limiter, through ctx.rateLimit

    // ---------------------------------------------------------------- the end (main loop)

    /** The bitmap by its mode, for a backup that succeeded: never keeps all, on-success and always replace. */
    @Override
    public void commit() {
        if (syncBitmap != null) {
            if (options.bitmapMode() == BitmapSyncMode.NEVER) {
                syncBitmap.reclaim();
            } else {
                syncBitmap.abdicate();
            }
        }
    }

    /**
     * The bitmap by its mode, for a backup that failed or was cancelled: always replaces it and
     * adds what was not copied; the others restore it.
     */
    @Override
    public void abort() {
        if (syncBitmap == null) {
            return;
        }
        if (options.bitmapMode() == BitmapSyncMode.ALWAYS) {
            copy.awaitIdle();
            syncBitmap.abdicate();
            syncBitmap.addNotCopied(copy.toCopy());
        } else {
            syncBitmap.reclaim();
        }
    }

    /** Puts the source's users back on the source, removes the filter, ends the copy threads. */
    @Override
    public void clean() {
        if (cleaned) {
            return;
        }
        cleaned = true;
        if (syncBitmap != null) {
            syncBitmap.reclaim(); // a job that never reached commit/abort (does nothing after them)
        }
        graph.replaceNode(filter, source);
        filter.attach(null);
        graph.removeInternalNode(filter);
        copyThreads.shutdown();
        LOG.info("backup job '{}': {} bytes copied ({} by copy-before-write)", id, copy.copiedBytes(),
                copy.cbwBytes());
    }

    /** Whether run() finished its copy (for tests). */
    boolean succeeded() {
        return succeeded;
    }

    /** The backup failed; the message is the job's error. */
    public static final class BackupException extends Exception {
        private static final long serialVersionUID = 1L;

        BackupException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
