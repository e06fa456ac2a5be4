package dev.converge.block.mirror;

import dev.converge.block.BlockBackend;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.DrainedSection;
import dev.converge.block.Errno;
import dev.converge.block.Extent;
import dev.converge.block.ReqFlag;
import dev.converge.block.WriteRequest;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import dev.converge.job.JobException;
import dev.converge.job.JobKind;
import dev.converge.job.SwitchoverParticipant;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.BitSet;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mirror job's driver (QEMU's block/mirror.c): copies a source node to a target node while
 * the source keeps changing, then switches the source's users over to the target.
 *
 * <h2>How data moves</h2>
 * <ul>
 * <li>The dirty bitmap on the source exists before the job starts (the QMP layer makes it, and
 *     for sync full/top marks the whole disk dirty before the filter passes any guest write),
 *     so no write is missed; each copy
 *     operation asks block-status per range: zero ranges become write-zeroes (MAY_UNMAP with
 *     unmap=true), data is read and written.</li>
 * <li>Up to {@link MirrorOptions#MAX_IN_FLIGHT} operations, at most buf-size bytes, run at once,
 *     each on its own virtual thread. An operation resets its granules in the bitmap
 *     <em>before</em> it reads, so a write racing the copy dirties them again.</li>
 * <li>Granules with an operation or a guest write in flight are <em>busy</em>: nothing else
 *     touches them until it ends. So two copies of a granule never overtake each other on the
 *     target, and a write-blocking guest write never interleaves with a copy.</li>
 * <li>Guest writes come through the {@link MirrorFilterNode}. In write-blocking mode each one is
 *     also written to the target before it completes; the granules it covers wholly are then
 *     clean (both sides hold the same bytes), so the dirty set only shrinks.</li>
 * <li>READY once nothing is dirty or in flight; the job keeps copying new writes. On
 *     job-complete, or a soft cancel in READY, it drains the filter (guest writes wait), copies
 *     the remainder, flushes the target and returns with the filter still drained; commit
 *     pivots (or not, after a soft cancel) and clean ends the drained section.</li>
 * </ul>
 *
 * <h2>Errors</h2>
 * A failed operation dirties its range again and applies on-source-error (reads, block-status)
 * or on-target-error (writes): report fails the job with the errno's text; ignore goes on; stop
 * pauses the job as a user pause (resume retries). Every error is announced to the
 * {@link ErrorReporter} (BLOCK_JOB_ERROR).
 *
 * <h2>Threads and locks</h2>
 * run() on the job's thread; copy operations on their own virtual threads; guest writes on the
 * writers' threads; the hooks named so by {@link JobDriver} on the main loop. {@link #lock}
 * guards the in-flight accounting; it is never held while calling the job context or the engine
 * (which may deliver job events, and so call {@link #info()}, on the calling thread), nor
 * across I/O.
 */
public final class MirrorJob implements JobDriver<MirrorChange, MirrorInfo>, SwitchoverParticipant {
    /** The mirror job kind: type {@code mirror}, its job-change options and its query-jobs members. */
    public static final JobKind<MirrorChange, MirrorInfo> KIND = new JobKind<>("mirror", MirrorChange.class,
            MirrorInfo.class);

    private static final Logger LOG = LoggerFactory.getLogger(MirrorJob.class);
    /** How long the job sleeps when idle before it looks again (writes wake it earlier). */
    private static final Duration IDLE_SLICE = Duration.ofMillis(100);

    /** Announces error actions (BLOCK_JOB_ERROR) and applies a stop, on the main loop. */
    public interface ErrorReporter {
        /**
         * Called on an I/O thread for every error; the returned future completes once the main
         * loop announced it (and, for {@link BlockErrorAction#STOP}, paused the job).
         */
        CompletableFuture<Void> onError(MirrorJob job, boolean read, BlockErrorAction action);
    }

    /** The source write of a guest request, run by {@link #guestWrite} at the right moment. */
    @FunctionalInterface
    interface SourceWrite {
        void run() throws BlockIOException;
    }

    private final String id;
    private final BlockGraph graph;
    private final BlockNode source;
    private final BlockNode target;
    private final MirrorFilterNode filter;
    /** The job's own user of the target; detached in clean. */
    private final BlockBackend targetBackend;
    private final DirtyBitmap bitmap;
    private final MirrorOptions options;
    private final ErrorReporter reporter;
    private final long granularity;
    private final int shift;
    /**
     * The copy operations' buffers, one per operation in flight, reused. Freed in {@link #clean},
     * which runs after the last operation ended (see there).
     */
    private final CopyBuffers buffers;

    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled under {@link #lock} whenever an operation or guest write releases its granules. */
    private final Condition released = lock.newCondition();
    /** Granules with a copy or guest write in flight. Guarded by {@link #lock}. */
    private final BitSet busy = new BitSet();
    /** Copy operations in flight. Guarded by {@link #lock}. */
    private int opsInFlight;
    /** Bytes of the copy operations in flight. Guarded by {@link #lock}; volatile for {@link #info()}. */
    private volatile long bytesInFlight;
    /** The first error whose action was report; the job fails with it. Guarded by {@link #lock}. */
    private BlockIOException failure;
    /** A stop being applied on the main loop; the job waits for it, then parks. Guarded by {@link #lock}. */
    private CompletableFuture<Void> pendingStop;
    /** Where the next search for dirty granules starts. Job thread only. */
    private long cursor;

    /** Bytes copied by operations and not yet reported as progress. Atomic: added by I/O threads. */
    private final AtomicLong unreportedProgress = new AtomicLong();
    /**
     * The current copy mode; only background → write-blocking, changed under {@code this}'s
     * monitor (job-change on the main loop). Volatile: read by every guest write.
     */
    private volatile MirrorCopyMode copyMode;
    /** The job's context once run() started; volatile for writers that wake it. */
    private volatile JobContext ctx;
    /** The speed limit, to know whether to account operations. Volatile: set on the main loop. */
    private volatile long speed;
    /** Whether the job reached READY once. Volatile: read by cancel on the main loop. */
    private volatile boolean synced;
    /** A soft cancel in READY: finish without pivot. Volatile: set on the main loop. */
    private volatile boolean softCancelled;
    /**
     * The leader of the grouped switchover asked to finish in place: like a soft cancel, finish
     * without pivot. Volatile: set on the main loop.
     */
    private volatile boolean finishInPlace;
    /** In write-blocking mode and in sync (QEMU actively-synced). Volatile: written by the job thread. */
    private volatile boolean activelySynced;
    /** QEMU's io-status: "ok", "failed" or "nospace". Volatile: for query-block-jobs. */
    private volatile String ioStatus = "ok";
    /** Whether the job thread is working (not sleeping or parked): query-block-jobs busy. */
    private volatile boolean working;
    /** The drained section of the filter, from the final copy until clean. Volatile: job thread, then main loop. */
    private volatile DrainedSection drained;
    /** Whether users were moved back or over already. Main loop only. */
    private boolean graphRestored;

    /**
     * Made on the main loop by the QMP layer after it inserted {@code filter} above
     * {@code source}, added {@code bitmap} to the source and attached {@code targetBackend}.
     */
    public MirrorJob(String id, BlockGraph graph, BlockNode source, BlockNode target, MirrorFilterNode filter,
            BlockBackend targetBackend, DirtyBitmap bitmap, MirrorOptions options, ErrorReporter reporter) {
        this.id = Objects.requireNonNull(id);
        this.graph = Objects.requireNonNull(graph);
        this.source = Objects.requireNonNull(source);
        this.target = Objects.requireNonNull(target);
        this.filter = Objects.requireNonNull(filter);
        this.targetBackend = Objects.requireNonNull(targetBackend);
        this.bitmap = Objects.requireNonNull(bitmap);
        this.options = Objects.requireNonNull(options);
        this.reporter = Objects.requireNonNull(reporter);
        this.granularity = bitmap.granularity();
        this.shift = Long.numberOfTrailingZeros(granularity);
        this.copyMode = options.copyMode();
        this.buffers = new CopyBuffers(id, MirrorOptions.MAX_IN_FLIGHT, options.maxOpBytes());
        filter.attach(this);
    }

    public String id() {
        return id;
    }

    public BlockNode source() {
        return source;
    }

    public BlockNode target() {
        return target;
    }

    public MirrorFilterNode filter() {
        return filter;
    }

    public MirrorCopyMode copyMode() {
        return copyMode;
    }

    /** QEMU's io-status of the job: ok, failed, nospace. */
    public String ioStatus() {
        return ioStatus;
    }

    /** Whether the job thread is doing work now (not sleeping or paused). */
    public boolean isBusy() {
        return working;
    }

    // ---------------------------------------------------------------- run

    @Override
    public void run(JobContext ctx) throws Exception {
        this.ctx = ctx;
        working = true;
        long size = source.size();
        if (size != target.size()) {
            throw new MirrorException("Source and target image have different sizes");
        }
        // The QMP layer marked the whole disk dirty (sync full/top) before the filter could pass
        // a guest write: see Mirrors.create for why not here.
        ctx.progressRemaining(bitmap.dirtyBytes());
        try {
            copyLoop(ctx, size);
        } finally {
            awaitNoOps();
            reportProgress(ctx);
            working = false;
        }
    }

    /**
     * Flushes the target while the guest still runs (the joint switchover is about to stop it):
     * on a target written as fast as the guest writes, the final flush in the stopped window
     * then has only the last writes to make durable instead of everything since the mirror
     * began (seen: ~120 ms of a 150 ms joint downtime with a 256 MiB disk).
     */
    @Override // SwitchoverParticipant
    public void prepareSwitchover() {
        try {
            targetBackend.flush();
        } catch (BlockIOException e) {
            // Best effort: the final flush tries again and reports a failure through run().
            LOG.debug("mirror '{}': early flush of the target failed: {}", id, e.getMessage());
        }
    }

    private void copyLoop(JobContext ctx, long size) throws Exception {
        for (;;) {
            ctx.checkpoint();
            awaitStop(ctx);
            BlockIOException f = failure();
            if (f != null) {
                throw new MirrorException(strerror(f.errno()), f);
            }
            boolean finishing = synced && (ctx.completeRequested() || softCancelled || finishInPlace);
            if (finishing && drained == null) {
                // No guest write gets in from here on: what is dirty now is the remainder.
                drained = filter.drain();
            }
            long launched = launchOps(ctx, size);
            reportProgress(ctx);
            if (launched > 0) {
                continue;
            }
            boolean idle;
            lock.lock();
            try {
                idle = opsInFlight == 0 && bitmap.dirtyChunks() == 0 && pendingStop == null && failure == null;
            } finally {
                lock.unlock();
            }
            if (idle) {
                // Operations that ended since the last report count before READY (its len).
                reportProgress(ctx);
                activelySynced = copyMode == MirrorCopyMode.WRITE_BLOCKING;
                if (!synced) {
                    synced = true;
                    ctx.setReady();
                    continue;
                }
                if (drained != null) {
                    try {
                        targetBackend.flush();
                    } catch (BlockIOException e) {
                        throw new MirrorException(strerror(e.errno()), e);
                    }
                    return; // the filter stays drained until the graph changed (commit/abort, clean)
                }
            }
            working = false;
            ctx.sleep(IDLE_SLICE); // operations, writes, verbs and pauses wake it earlier
            working = true;
        }
    }

    /**
     * Starts copy operations for dirty, idle granules while there is room; returns the bytes
     * launched. With a speed limit each operation is accounted before the next one starts.
     */
    private long launchOps(JobContext ctx, long size) {
        long total = 0;
        for (;;) {
            long start;
            long end;
            lock.lock();
            try {
                if (failure != null || pendingStop != null || opsInFlight >= MirrorOptions.MAX_IN_FLIGHT) {
                    return total;
                }
                long[] r = pickLocked(size, opBytes());
                if (r == null) {
                    return total;
                }
                start = r[0];
                end = r[1];
                if (opsInFlight > 0 && bytesInFlight + (end - start) > options.bufSize()) {
                    return total;
                }
                busy.set(chunk(start), chunk(end - 1) + 1);
                opsInFlight++;
                bytesInFlight += end - start;
                // Reset before the read: a write that lands after this dirties the range again.
                bitmap.resetDirty(start, end - start);
                cursor = end >= size ? 0 : end;
            } finally {
                lock.unlock();
            }
            long s = start;
            long len = end - start;
            Thread.ofVirtual().name(id + "-copy-" + s).start(() -> copy(s, len));
            total += len;
            if (speed > 0) {
                reportProgress(ctx);
                ctx.rateLimit(len);
            }
        }
    }

    /** The next run of dirty, idle granules from {@link #cursor} (wrapping once), at most maxOpBytes. */
    private long[] pickLocked(long size, long max) {
        assert lock.isHeldByCurrentThread();
        long pos = cursor;
        boolean wrapped = false;
        for (;;) {
            long d = pos >= size ? -1 : bitmap.nextDirty(pos);
            if (d < 0 || (wrapped && d >= cursor)) {
                if (wrapped || cursor == 0) {
                    return null;
                }
                wrapped = true;
                pos = 0;
                continue;
            }
            long c = chunk(d);
            if (busy.get((int) c)) {
                pos = (c + 1) << shift;
                continue;
            }
            long start = c << shift;
            long end = Math.min(size, start + granularity);
            while (end < size && end - start < max && !busy.get(chunk(end)) && bitmap.isDirty(end, 1)) {
                end = Math.min(size, end + granularity);
            }
            return new long[] {start, end};
        }
    }

    /**
     * The largest operation now: {@link MirrorOptions#maxOpBytes()}, or with a speed limit what
     * the limit allows in 100 ms (QEMU's slice), so progress and pauses stay timely.
     */
    private long opBytes() {
        long max = options.maxOpBytes();
        long s = speed;
        if (s > 0) {
            max = Math.min(max, Math.max(granularity, (s / 10) & -granularity));
        }
        return max;
    }

    /**
     * One copy operation, on its own virtual thread. Its buffer comes from {@link #buffers} with
     * an earlier operation's bytes in it: only the slice a read just filled is ever written (a
     * zero range goes as write-zeroes, without the buffer). Every driver's read fills all of its
     * buffer (past EOF, and NBD holes, as zeroes) except null-co without read-zeroes, whose
     * contents are undefined by design (QEMU's, with its reused buffers, too).
     */
    private void copy(long start, long len) {
        boolean read = true; // which side an error comes from: the source (block-status, read) or the target
        MemorySegment opBuf = null;
        try {
            for (Extent e : source.blockStatus(start, len)) {
                if (e.isZero()) {
                    read = false;
                    targetBackend.writeZeroes(e.offset(), e.length(),
                            options.unmap() ? EnumSet.of(ReqFlag.MAY_UNMAP) : Set.of());
                } else {
                    read = true;
                    if (opBuf == null) {
                        opBuf = buffers.take(); // launchOps keeps len <= maxOpBytes, the buffers' size
                    }
                    MemorySegment buf = opBuf.asSlice(e.offset() - start, e.length());
                    source.read(e.offset(), buf);
                    read = false;
                    targetBackend.write(e.offset(), buf, Set.of());
                }
                read = true;
            }
            unreportedProgress.addAndGet(len);
        } catch (BlockIOException e) {
            bitmap.setDirty(start, len);
            onError(read, e);
        } catch (RuntimeException | Error e) {
            bitmap.setDirty(start, len);
            LOG.error("mirror job '{}': copy of {} bytes at {} failed (bug)", id, len, start, e);
            onError(read, new BlockIOException(Errno.EIO, String.valueOf(e), e));
        } finally {
            if (opBuf != null) {
                // Before the in-flight count drops: once it is 0 every buffer is back (see clean).
                buffers.give(opBuf);
            }
            lock.lock();
            try {
                busy.clear(chunk(start), chunk(start + len - 1) + 1);
                opsInFlight--;
                bytesInFlight -= len;
                released.signalAll();
            } finally {
                lock.unlock();
            }
            wake();
        }
    }

    /** Applies the error policy to a failed read (source) or write (target); any thread. */
    private void onError(boolean read, BlockIOException e) {
        BlockdevOnError policy = read ? options.onSourceError() : options.onTargetError();
        BlockErrorAction action = policy.decide(e.errno());
        LOG.debug("mirror job '{}': {} error ({}), action {}", id, read ? "read" : "write", e.getMessage(),
                action.wireName());
        activelySynced = false;
        if (action == BlockErrorAction.STOP) {
            ioStatus = e.errno() == Errno.ENOSPC.code() ? "nospace" : "failed";
        }
        CompletableFuture<Void> announced = reporter.onError(this, read, action);
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
        wake();
    }

    /** When an error asked for a stop: waits until the main loop paused the job, then parks. */
    private void awaitStop(JobContext ctx) {
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
            LOG.warn("mirror job '{}': stop after an error was not applied", id, e.getCause());
        }
        lock.lock();
        try {
            pendingStop = null;
        } finally {
            lock.unlock();
        }
        ctx.checkpoint(); // parks here: the stop is a user pause, job-resume retries
    }

    private BlockIOException failure() {
        lock.lock();
        try {
            return failure;
        } finally {
            lock.unlock();
        }
    }

    private void reportProgress(JobContext ctx) {
        long done = unreportedProgress.getAndSet(0);
        if (done > 0) {
            ctx.progressDone(done);
        }
        ctx.progressRemaining(bitmap.dirtyBytes() + bytesInFlight);
    }

    private void awaitNoOps() {
        lock.lock();
        try {
            while (opsInFlight > 0) {
                released.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
    }

    private void wake() {
        JobContext c = ctx;
        if (c != null) {
            c.wake();
        }
    }

    // ---------------------------------------------------------------- guest writes

    /**
     * A guest write through the filter: waits until no copy or other guest write is in flight on
     * the granules it touches, writes the source, and in write-blocking mode also the target,
     * after which the granules it covers wholly are clean. A target error leaves them dirty and
     * goes to the on-target-error policy; the guest's write still succeeds (as QEMU).
     */
    void guestWrite(WriteRequest.Kind kind, long offset, long bytes, MemorySegment data, Set<ReqFlag> flags,
            SourceWrite sourceWrite) throws BlockIOException {
        if (bytes == 0) {
            sourceWrite.run();
            return;
        }
        int first = chunk(offset);
        int lastExcl = chunk(offset + bytes - 1) + 1;
        lock.lock();
        try {
            while (busy.nextSetBit(first) >= 0 && busy.nextSetBit(first) < lastExcl) {
                released.awaitUninterruptibly();
            }
            busy.set(first, lastExcl);
        } finally {
            lock.unlock();
        }
        try {
            boolean active = copyMode == MirrorCopyMode.WRITE_BLOCKING && kind != WriteRequest.Kind.DISCARD;
            long headStart = (long) first << shift;
            long tailStart = (long) (lastExcl - 1) << shift;
            // A granule the write covers only partly keeps its state: equal bytes written to both
            // sides leave a clean granule clean and a dirty one dirty.
            boolean headDirty = active && bitmap.isDirty(headStart, 1);
            boolean tailDirty = active && bitmap.isDirty(tailStart, 1);
            sourceWrite.run(); // the source's write path marks the bitmap
            if (active) {
                try {
                    if (kind == WriteRequest.Kind.WRITE) {
                        targetBackend.write(offset, data, flags);
                    } else {
                        targetBackend.writeZeroes(offset, bytes, flags);
                    }
                    bitmap.resetDirty(headStart, Math.min(bitmap.length(), (long) lastExcl << shift) - headStart);
                    if (headDirty) {
                        bitmap.setDirty(headStart, 1);
                    }
                    if (tailDirty) {
                        bitmap.setDirty(tailStart, 1);
                    }
                } catch (BlockIOException e) {
                    onError(false, e); // the range stays dirty: the source's write path marked it
                }
            }
        } finally {
            lock.lock();
            try {
                busy.clear(first, lastExcl);
                released.signalAll();
            } finally {
                lock.unlock();
            }
            wake();
        }
    }

    /** The granule holding {@code offset}; the QMP layer refuses disks with more than 2^31 granules. */
    private int chunk(long offset) {
        return (int) (offset >>> shift);
    }

    // ---------------------------------------------------------------- verbs

    /** Parks only with nothing in flight (QEMU mirror_pause waits for all I/O). */
    @Override
    public void pause() {
        working = false;
        awaitNoOps();
    }

    @Override
    public void resume() {
        ioStatus = "ok";
        working = true;
    }

    @Override
    public void setSpeed(long bytesPerSecond) {
        speed = bytesPerSecond;
    }

    /**
     * Accepted in READY (the engine checks, and refuses a mirror whose grouped switchover
     * finishes it); run() then drains and finishes.
     */
    @Override
    public void complete() {
    }

    /**
     * The leader's switchover (the guest is stopped): finish without pivot, as a soft cancel in
     * READY does, so the target ends as a consistent copy and the source's users stay on the
     * source. Main loop.
     */
    @Override // SwitchoverParticipant
    public void finishInPlace() {
        finishInPlace = true;
        wake();
    }

    /**
     * A soft cancel in READY finishes with a consistent copy and no pivot (BLOCK_JOB_COMPLETED);
     * a force cancel, or any cancel before READY, aborts.
     */
    @Override
    public boolean cancel(boolean force) {
        if (force || !synced) {
            return true;
        }
        softCancelled = true;
        wake();
        return false;
    }

    /** job-change: {@code copy-mode} may go from background to write-blocking (QEMU's texts). */
    @Override
    public void change(MirrorChange opts) {
        if (opts.copyMode().isEmpty()) {
            return;
        }
        MirrorCopyMode m = opts.copyMode().get();
        if (m != MirrorCopyMode.WRITE_BLOCKING) {
            throw JobException.generic("Change to copy mode '" + m.wireName() + "' is not implemented");
        }
        synchronized (this) {
            if (copyMode != MirrorCopyMode.BACKGROUND) {
                throw JobException.generic("Expected current copy mode 'background', got '"
                        + copyMode.wireName() + "'");
            }
            copyMode = m;
        }
        wake();
    }

    @Override
    public MirrorInfo info() {
        return new MirrorInfo(copyMode, activelySynced, bitmap.dirtyBytes(), bytesInFlight);
    }

    // ---------------------------------------------------------------- the end (main loop)

    /** Pivot: the source's users (through the filter) now use the target, unless soft-cancelled or finished in place. */
    @Override
    public void commit() {
        if (softCancelled || finishInPlace) {
            restoreSource();
            return;
        }
        graph.replaceNode(filter, target);
        graphRestored = true;
        LOG.info("mirror job '{}': pivoted from '{}' to '{}'", id, source.nodeName(), target.nodeName());
    }

    /** The source's users go back to the source; the target is left as it is. */
    @Override
    public void abort() {
        restoreSource();
    }

    private void restoreSource() {
        if (!graphRestored) {
            graph.replaceNode(filter, source);
            graphRestored = true;
        }
    }

    /**
     * Ends the drained section, removes the filter, the bitmap and the job's target user, and
     * frees the copy buffers. No operation holds one by then, so nothing waits here: the engine
     * calls clean only after run() returned (or for a job that never ran), run() returns only
     * with no operation in flight (awaitNoOps), only run()'s thread launches operations, and each
     * gives its buffer back before it leaves the in-flight count.
     */
    @Override
    public void clean() {
        restoreSource();
        filter.attach(null);
        DrainedSection d = drained;
        drained = null;
        if (d != null) {
            d.close();
        }
        graph.removeInternalNode(filter);
        source.removeDirtyBitmap(bitmap);
        graph.detachBackend(targetBackend);
        buffers.close();
    }

    /** strerror as QEMU puts it in the job's error. */
    static String strerror(int errno) {
        Errno e = Errno.of(errno);
        return e != null ? e.strerror() : "Unknown error " + errno;
    }

    /** The mirror failed; the message is the job's error. */
    public static final class MirrorException extends Exception {
        private static final long serialVersionUID = 1L;

        public MirrorException(String message) {
            super(message);
        }

        public MirrorException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
