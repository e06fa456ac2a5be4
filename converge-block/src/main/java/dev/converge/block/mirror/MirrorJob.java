package dev.converge.block.mirror;

import dev.converge.block.CopyThreads;
import dev.converge.block.BlockBackend;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockJob;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.DrainedSection;
import dev.converge.block.Errno;
import dev.converge.block.Extent;
import dev.converge.block.ReqFlag;
import dev.converge.block.WriteFilterNode;
import dev.converge.block.WriteRequest;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import dev.converge.job.JobException;
import dev.converge.job.JobKind;
import dev.converge.job.SwitchoverParticipant;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadPoolExecutor;
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
 * <li>The dirty bitmap on the source exists before the job starts ({@link Mirrors} makes it, and
 *     for sync full marks the whole disk dirty, for sync top what the source's top layer holds,
 *     before the filter passes any guest write),
 *     so no write is missed; each copy
 *     operation asks block-status per range: zero ranges become write-zeroes (MAY_UNMAP with
 *     unmap=true), data is read and written, or, between two host files, copied in the kernel
 *     ({@link #copyPiece}: copy_file_range through the target's write path, no buffer).</li>
 * <li>First, for sync full, an allocation scan ({@link #skipZeroes}) marks clean what reads as
 *     zeroes on both sides, without reading or writing it. Sync top needs none: only what the top
 *     layer holds is dirty, found by asking the top alone (QEMU's mirror_dirty_init with
 *     bdrv_is_allocated_above down to the top's backing); nothing below it is read or asked.</li>
 * <li>Up to {@link MirrorOptions#MAX_IN_FLIGHT} operations, at most buf-size bytes, run at once,
 *     on the job's platform copy threads. An operation resets its granules in the bitmap
 *     <em>before</em> it reads, so a write racing the copy dirties them again.</li>
 * <li>Into a target that {@linkplain BlockNode#writesIntoHostPageCache writes into the host page
 *     cache} the operations write one at a time and in pieces, and a piece waits while a guest
 *     write is writing the target ({@link TargetTurns}): such writes serialize on the host
 *     file's inode lock, and copies queued there put a write-blocking guest write behind all of
 *     them (measured: 50-200 ms per guest write during the bulk copy). Guest writes never wait
 *     for a copy's turn.</li>
 * <li>The copy threads run at a lower CPU priority than the threads that serve the guest
 *     ({@link dev.converge.block.BackgroundPriority}).</li>
 * <li>Work in flight is registered by granules in {@link InFlightRanges}. An operation starts
 *     only on granules nothing else has in flight, so two copies of a granule never overtake
 *     each other on the target.</li>
 * <li>Guest writes come through the {@link MirrorFilterNode} and never wait for a copy: the
 *     guest always wins. In write-blocking mode each one is also written to the target before
 *     it completes; the granules it covers wholly are then clean, unless a copy or another
 *     write overlapped it (then they stay dirty and are copied again).</li>
 * <li>READY once nothing is dirty or in flight; the job keeps copying new writes. On
 *     job-complete, a soft cancel in READY, or the grouped switchover's finish in place, it
 *     copies until nothing is dirty and flushes the target while the guest still runs (again,
 *     copying first, while more than {@link #FINAL_FLUSH_BYTES} came in during a flush, written
 *     to the target or dirty on the source, at most {@link #MAX_EARLY_FLUSHES} times); then it
 *     drains the filter
 *     (guest writes wait), copies the few writes that came in meanwhile, flushes again and
 *     returns with the filter still drained; commit pivots (or not, after a soft cancel or in
 *     place) and clean ends the drained section.</li>
 * </ul>
 *
 * <h2>Errors</h2>
 * A failed operation dirties its range again and applies on-source-error (reads, block-status)
 * or on-target-error (writes): report fails the job with the errno's text; ignore goes on; stop
 * pauses the job as a user pause (resume retries). Every error is announced to the
 * {@link ErrorReporter} (BLOCK_JOB_ERROR).
 *
 * <h2>Threads and locks</h2>
 * run() on the job's thread; copy operations and flushes on its copy threads; guest writes on the
 * writers' threads; the hooks named so by {@link JobDriver} on the main loop. {@link #lock}
 * guards the in-flight accounting; it is never held while calling the job context or the engine
 * (which may deliver job events, and so call {@link #info()}, on the calling thread), nor
 * across I/O.
 */
public final class MirrorJob implements JobDriver<MirrorChange, MirrorInfo>, SwitchoverParticipant, BlockJob {
    /** The mirror job kind: type {@code mirror}, its job-change options and its query-jobs members. */
    public static final JobKind<MirrorChange, MirrorInfo> KIND = new JobKind<>("mirror", MirrorChange.class,
            MirrorInfo.class);

    private static final Logger LOG = LoggerFactory.getLogger(MirrorJob.class);
    /** How long the job sleeps when idle before it looks again (writes wake it earlier). */
    private static final Duration IDLE_SLICE = Duration.ofMillis(100);
    /** How long an idle copy thread waits for the next operation before it ends. */
    private static final Duration COPY_THREAD_KEEP_ALIVE = Duration.ofSeconds(5);
    /**
     * Before the final drain the job copies and flushes again while more than this came in during
     * the previous flush (written to the target, or dirtied on the source): the drained section,
     * in which every guest write waits, then copies and flushes at most about this much (a flush
     * of the whole fresh target took seconds, and the guest writes on meanwhile).
     */
    static final long FINAL_FLUSH_BYTES = 4L << 20;
    /** At most this many flushes before the final drain (a guest may write faster than the disk). */
    static final int MAX_EARLY_FLUSHES = 8;
    /** Bytes of the source one allocation-scan step looks at. */
    static final long SCAN_WINDOW = 64L << 20;

    /** Announces error actions (BLOCK_JOB_ERROR) and applies a stop, on the main loop. */
    public interface ErrorReporter {
        /**
         * Called on an I/O thread for every error; the returned future completes once the main
         * loop announced it (and, for {@link BlockErrorAction#STOP}, paused the job).
         */
        CompletableFuture<Void> onError(MirrorJob job, boolean read, BlockErrorAction action);
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
    /** Granules with a copy, guest write or scan window in flight. Guarded by {@link #lock}. */
    private final InFlightRanges ranges = new InFlightRanges();
    /**
     * Platform threads for copy operations and target flushes, made on first use and ended by
     * {@link #clean}. Not virtual threads: a pread/pwrite/fdatasync through FFM pins a virtual
     * thread's carrier for the whole call, and a target write held up by the kernel's dirty-page
     * throttling pinned the few carriers for hundreds of milliseconds, so the guest's requests,
     * which run on virtual threads, waited for a carrier (issue 13: guest writes of 1-4 s).
     */
    private final ThreadPoolExecutor copyThreads;
    /** Who writes the target next: guest writes before copies, copies one by one into the page cache. */
    private final TargetTurns turns;
    /**
     * Whether the source {@linkplain BlockNode#readsAsHostFile reads as a host file's bytes}
     * (a file without cache.direct, raw over one), so data may go to the target in the kernel;
     * false again should a piece find no span after all. Volatile: copy threads.
     */
    private volatile boolean sourceHasSpans;
    /** Copy operations in flight. Guarded by {@link #lock}. */
    private int opsInFlight;
    /** Bytes of the copy operations in flight. Guarded by {@link #lock}; volatile for {@link #info()}. */
    private volatile long bytesInFlight;
    /** on-source-error / on-target-error: the first reported error, a stop being applied, the io-status. */
    private final BlockJobErrors errors;
    /** Where the next search for dirty granules starts. Job thread only. */
    private long cursor;

    /** Bytes written to the target since the last flush began. Atomic: copy and guest threads add. */
    private final AtomicLong unflushed = new AtomicLong();
    /** Flushes made before the final drain. Job thread only. */
    private int earlyFlushes;
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
    /** Whether the job thread is working (not sleeping or parked): query-block-jobs busy. */
    private volatile boolean working;
    /** The drained section of the filter, from the final copy until clean. Volatile: job thread, then main loop. */
    private volatile DrainedSection drained;
    /** Whether users were moved back or over already. Main loop only. */
    private boolean graphRestored;

    /**
     * Made on the main loop by {@link Mirrors} after it inserted {@code filter} above
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
        Objects.requireNonNull(reporter);
        this.errors = new BlockJobErrors(id, options.onSourceError(), options.onTargetError(),
                (jobId, read, action) -> reporter.onError(this, read, action));
        this.granularity = bitmap.granularity();
        this.shift = Long.numberOfTrailingZeros(granularity);
        this.copyMode = options.copyMode();
        this.buffers = new CopyBuffers(id, MirrorOptions.MAX_IN_FLIGHT, options.maxOpBytes());
        // One per operation and one for a flush; they end when idle and at clean.
        this.copyThreads = CopyThreads.pool(id, MirrorOptions.MAX_IN_FLIGHT + 1, COPY_THREAD_KEEP_ALIVE);
        this.sourceHasSpans = source.readsAsHostFile();
        this.turns = TargetTurns.forTarget(target, sourceHasSpans, MirrorOptions.MAX_IN_FLIGHT);
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

    /** Copy operations waiting for a lane to write the target now (for tests). */
    int copiesWaitingToWrite() {
        return turns.copiesWaiting();
    }

    /** The copy buffers (for tests: all back and closed once the job cleaned up). */
    CopyBuffers buffers() {
        return buffers;
    }

    public MirrorCopyMode copyMode() {
        return copyMode;
    }

    /** QEMU's io-status of the job: ok, failed, nospace. */
    public String ioStatus() {
        return errors.ioStatus();
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
        // Mirrors.create marked what to copy dirty (sync full: the whole disk; top: what the top
        // layer holds) before the filter could pass a guest write: see Mirrors.create for why not here.
        ctx.progressRemaining(bitmap.dirtyBytes());
        try {
            if (bitmap.dirtyChunks() > 0 && speed == 0 && options.sync() != MirrorSyncMode.TOP) {
                skipZeroes(ctx, size);
            }
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

    /**
     * The allocation scan (QEMU's mirror_dirty_init, by block status): granules that read as
     * zeroes on the source and already read as zeroes on the target need no copy at all, so
     * they are marked clean without reading or writing them. A sparse source into a fresh
     * target is then copied at the cost of its data alone, and the target's holes stay holes.
     * <p>
     * Window by window; each window is registered in {@link #ranges} while its status is asked,
     * and a guest write into it meanwhile (which could have put data where the answer said zero)
     * leaves the whole window dirty: the copy operations sort it out by their own block status.
     * A block-status error leaves the window dirty too, for the same reason; the copy operation
     * that meets it again applies the error policy. Skipped bytes count as progress done (QEMU
     * counts its zero writes so: the job's len stays the disk's size). A job that starts with a
     * speed limit does not scan: the limit then accounts every byte, zeroes included, as QEMU's
     * does for a target that cannot unmap (and users rely on a slow job staying RUNNING).
     */
    private void skipZeroes(JobContext ctx, long size) {
        for (long pos = 0; pos < size; pos += SCAN_WINDOW) {
            ctx.checkpoint();
            long end = Math.min(size, pos + SCAN_WINDOW);
            long firstDirty = bitmap.nextDirty(pos);
            if (firstDirty < 0) {
                break; // nothing dirty from here on: nothing to skip
            }
            if (firstDirty >= end) {
                continue; // nothing dirty in this window: no block status to ask
            }
            InFlightRanges.Range window;
            lock.lock();
            try {
                window = ranges.add(chunk(pos), chunk(end - 1) + 1, InFlightRanges.Kind.SCAN);
            } finally {
                lock.unlock();
            }
            List<Extent> zeroes = List.of();
            try {
                zeroes = Extents.zeroOnBoth(source.blockStatus(pos, end - pos),
                        targetBackend.blockStatus(pos, end - pos));
            } catch (BlockIOException e) {
                LOG.debug("mirror job '{}': block status of [{}, {}) failed, copying it all: {}", id, pos, end,
                        e.getMessage());
            } finally {
                lock.lock();
                try {
                    if (!window.conflicted()) {
                        long before = bitmap.dirtyBytes();
                        for (Extent z : zeroes) {
                            bitmap.resetDirty(z.offset(), z.length()); // whole granules only
                        }
                        unreportedProgress.addAndGet(before - bitmap.dirtyBytes());
                    }
                    ranges.remove(window);
                    released.signalAll();
                } finally {
                    lock.unlock();
                }
            }
            reportProgress(ctx);
        }
    }

    private void copyLoop(JobContext ctx, long size) throws Exception {
        for (;;) {
            ctx.checkpoint();
            errors.awaitStop(ctx);
            BlockIOException f = errors.failure();
            if (f != null) {
                throw new MirrorException(strerror(f.errno()), f);
            }
            boolean finishing = synced && (ctx.completeRequested() || softCancelled || finishInPlace);
            long launched = launchOps(ctx, size);
            reportProgress(ctx);
            if (launched > 0) {
                continue;
            }
            boolean idle;
            lock.lock();
            try {
                // an op reports its error before it leaves opsInFlight (under this lock)
                idle = opsInFlight == 0 && bitmap.dirtyChunks() == 0 && !errors.blocking();
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
                if (finishing) {
                    // Flushed twice, as QEMU: first while the guest still writes, so the drained
                    // section, which holds every guest write, only copies what came in since and
                    // flushes that little (one flush of a freshly written target took seconds).
                    flushTarget();
                    if (drained == null) {
                        // What the drained section would copy and flush: the target bytes written
                        // during that flush (write-blocking) and the granules dirtied meanwhile
                        // (background: the guest wrote only the source). Much: copy and flush it
                        // while the guest still runs.
                        if (unflushed.get() + bitmap.dirtyBytes() > FINAL_FLUSH_BYTES
                                && ++earlyFlushes < MAX_EARLY_FLUSHES) {
                            continue;
                        }
                        drained = filter.drain(); // no guest write gets in from here on
                        continue; // copies what was written meanwhile (a few writes), then flushes
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
            InFlightRanges.Range op;
            lock.lock();
            try {
                if (errors.blocking() || opsInFlight >= MirrorOptions.MAX_IN_FLIGHT) {
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
                op = ranges.add(chunk(start), chunk(end - 1) + 1, InFlightRanges.Kind.COPY);
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
            copyThreads.execute(() -> copy(s, len, op));
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
            if (ranges.overlaps(c, c + 1)) {
                pos = (c + 1) << shift;
                continue;
            }
            long start = c << shift;
            long end = Math.min(size, start + granularity);
            while (end < size && end - start < max && !ranges.overlaps(chunk(end), chunk(end) + 1)
                    && bitmap.isDirty(end, 1)) {
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
    private void copy(long start, long len, InFlightRanges.Range op) {
        boolean read = true; // which side an error comes from: the source (block-status, read) or the target
        OpBuffer opBuf = new OpBuffer(start);
        try {
            for (Extent e : source.blockStatus(start, len)) {
                if (e.isZero()) {
                    read = false;
                    turns.copyWrite(() -> targetBackend.writeZeroes(e.offset(), e.length(),
                            options.unmap() ? EnumSet.of(ReqFlag.MAY_UNMAP) : Set.of()));
                } else if (copiesInKernel()) {
                    read = false; // the kernel does not say which side of a copy failed: the target's policy
                    turns.copyWrite(e.offset(), e.length(), (at, n) -> copyPiece(at, n, opBuf));
                    unflushed.addAndGet(e.length());
                } else {
                    read = true;
                    MemorySegment buf = opBuf.slice(e.offset(), e.length());
                    source.read(e.offset(), buf);
                    read = false;
                    turns.copyWrite(e.offset(), e.length(),
                            (at, n) -> targetBackend.write(at, buf.asSlice(at - e.offset(), n), Set.of()));
                    unflushed.addAndGet(e.length());
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
            // Before the in-flight count drops: once it is 0 every buffer is back (see clean).
            opBuf.giveBack();
            lock.lock();
            try {
                ranges.remove(op);
                opsInFlight--;
                bytesInFlight -= len;
                released.signalAll();
            } finally {
                lock.unlock();
            }
            wake();
        }
    }

    /**
     * Whether data goes from the source's host file to the target's in the kernel
     * (copy_file_range): the source reads as a host file and the target
     * {@linkplain BlockNode#writesFromHostFiles takes such copies} (it stops after a refusal).
     */
    private boolean copiesInKernel() {
        return sourceHasSpans && targetBackend.node().writesFromHostFiles();
    }

    /**
     * One piece of a data extent copied in the kernel: the source's host file span, admitted on
     * the source as a read is, written through the target's write path (notifiers, bitmaps,
     * statistics, the target's in-flight count) by {@link BlockNode#writeFromHostFile}. Where the
     * source has no span after all, the piece is read into the operation's buffer and written, and
     * later operations read as usual.
     */
    private void copyPiece(long at, long n, OpBuffer opBuf) throws BlockIOException {
        Optional<Boolean> copied = source.hostFileSpan(at, n, span -> {
            targetBackend.writeFromHostFile(at, span, Set.of());
            return Boolean.TRUE;
        });
        if (copied.isEmpty()) { // not expected (the source had spans when the job started): read and write it
            sourceHasSpans = false;
            MemorySegment piece = opBuf.slice(at, n);
            source.read(at, piece);
            targetBackend.write(at, piece, Set.of());
        }
    }

    /**
     * One operation's buffer from {@link #buffers}, taken on first need (a copy in the kernel needs
     * none) and given back when the operation ends. Only the operation's thread uses it.
     */
    private final class OpBuffer {
        private final long opStart;
        private MemorySegment segment;

        OpBuffer(long opStart) {
            this.opStart = opStart;
        }

        /** The buffer's bytes for [offset, offset + n) of the operation. */
        MemorySegment slice(long offset, long n) {
            if (segment == null) {
                segment = buffers.take(); // launchOps keeps an operation <= maxOpBytes, the buffers' size
            }
            return segment.asSlice(offset - opStart, n);
        }

        void giveBack() {
            if (segment != null) {
                buffers.give(segment);
                segment = null;
            }
        }
    }

    /**
     * Flushes the target on a copy thread (an fdatasync may take seconds; on the job's virtual
     * thread it would pin a carrier the guest's requests need).
     */
    private void flushTarget() throws MirrorException, InterruptedException {
        unflushed.set(0);
        Future<?> f = copyThreads.submit(() -> {
            targetBackend.flush();
            return null;
        });
        try {
            f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof BlockIOException b) {
                throw new MirrorException(strerror(b.errno()), b);
            }
            throw new MirrorException(String.valueOf(e.getCause()), e.getCause());
        }
    }

    /** Applies the error policy to a failed read (source) or write (target); any thread. */
    private void onError(boolean read, BlockIOException e) {
        activelySynced = false;
        errors.onError(read, e);
        wake();
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
     * A guest write through the filter. It never waits for a copy operation or another guest
     * write: it registers its granules, writes the source (whose write path marks the bitmap),
     * and in write-blocking mode also the target. Then, unless another copy, write or scan
     * overlapped it meanwhile, the granules it covers wholly are clean (both sides hold the same
     * bytes, and nothing else touched them); after an overlap they stay dirty and are copied
     * again, since the order in which the two reached the target is unknown. A target error
     * leaves them dirty and goes to the on-target-error policy; the guest's write still succeeds
     * (as QEMU). The job's lock is held only to register and release, never across I/O.
     */
    void guestWrite(WriteRequest.Kind kind, long offset, long bytes, MemorySegment data, Set<ReqFlag> flags,
            WriteFilterNode.ChildWrite sourceWrite) throws BlockIOException {
        if (bytes == 0) {
            sourceWrite.run();
            return;
        }
        long first = chunk(offset);
        long lastExcl = chunk(offset + bytes - 1) + 1;
        InFlightRanges.Range write;
        lock.lock();
        try {
            write = ranges.add(first, lastExcl, InFlightRanges.Kind.GUEST_WRITE);
        } finally {
            lock.unlock();
        }
        try {
            boolean active = copyMode == MirrorCopyMode.WRITE_BLOCKING && kind != WriteRequest.Kind.DISCARD;
            long headStart = first << shift;
            long tailStart = (lastExcl - 1) << shift;
            // A granule the write covers only partly keeps its state: equal bytes written to both
            // sides leave a clean granule clean and a dirty one dirty.
            boolean headDirty = active && bitmap.isDirty(headStart, 1);
            boolean tailDirty = active && bitmap.isDirty(tailStart, 1);
            sourceWrite.run(); // the source's write path marks the bitmap
            if (active) {
                try {
                    turns.guestWrite(() -> {
                        if (kind == WriteRequest.Kind.WRITE) {
                            targetBackend.write(offset, data, flags);
                        } else {
                            targetBackend.writeZeroes(offset, bytes, flags);
                        }
                    });
                    unflushed.addAndGet(bytes);
                    lock.lock();
                    try {
                        if (!write.conflicted()) {
                            bitmap.resetDirty(headStart, Math.min(bitmap.length(), lastExcl << shift) - headStart);
                            if (headDirty) {
                                bitmap.setDirty(headStart, 1);
                            }
                            if (tailDirty) {
                                bitmap.setDirty(tailStart, 1);
                            }
                        }
                    } finally {
                        lock.unlock();
                    }
                } catch (BlockIOException e) {
                    onError(false, e); // the range stays dirty: the source's write path marked it
                }
            }
        } finally {
            lock.lock();
            try {
                ranges.remove(write);
                released.signalAll();
            } finally {
                lock.unlock();
            }
            wake();
        }
    }

    /** The granule holding {@code offset}. */
    private long chunk(long offset) {
        return offset >>> shift;
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
        errors.resumed();
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
        copyThreads.shutdown(); // idle by now (see above): its threads end
        buffers.close();
    }

    /** strerror as QEMU puts it in the job's error. */
    static String strerror(int errno) {
        return Errno.describe(errno);
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
