package dev.converge.block.chain;

import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockJob;
import dev.converge.block.BlockNode;
import dev.converge.block.CopyThreads;
import dev.converge.block.Errno;
import dev.converge.block.Extent;
import dev.converge.block.mirror.BlockErrorAction;
import dev.converge.block.mirror.BlockdevOnError;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadPoolExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What block-stream and block-commit share (QEMU's stream_run and commit_run): walk the disk in
 * chunks, ask which ranges of the chunk the job must move (only what the part of the chain being
 * streamed or committed holds: the rest is neither read nor written), read them through
 * {@code top} (what the guest sees there) and store them ({@link #store}); count the whole chunk
 * as progress, the bytes moved against the speed limit. At the end, in {@link #prepare}, the
 * chain is relinked ({@link Relink}). An I/O error applies the {@code on-error} policy (QEMU's
 * block_job_error_action): report fails the job with the errno's text, ignore skips the chunk,
 * stop pauses the job (a user pause; resuming retries the chunk); every error is announced
 * (BLOCK_JOB_ERROR) first.
 *
 * <h2>Chunks in flight</h2>
 * Without a speed limit, {@value #IN_FLIGHT} chunks of {@value #FAST_CHUNK} bytes are moved at
 * once on the job's copy threads (platform threads: a pread/pwrite through FFM pins a virtual
 * thread's carrier), and their results are taken in disk order, so progress, errors and the
 * policy's retries happen in the order of a sequential walk. Twice as many chunks as threads may
 * be outstanding, so a slow chunk at the head does not leave the other threads idle. The chunks
 * never overlap, and each
 * store is safe against a racing guest write on its own (stream: populate; commit: the committed
 * part of the chain is read-only). With a speed limit one chunk of {@value #CHUNK} bytes (QEMU's
 * chunk) moves at a time, so the limit holds from the first byte.
 *
 * <h2>Flushes while copying</h2>
 * The graph change at the end makes what was copied durable first (the image's header stops
 * pointing at the data's old home only once the data is on disk), and a flush of gigabytes just
 * written took seconds. So every {@value #FLUSH_EVERY} bytes moved the destination is flushed on
 * a thread of its own while the copy goes on (one flush at a time, best effort: an error here is
 * reported by the final flush), and the final flush finds little left to write.
 *
 * <h2>Threads</h2>
 * run() on the job's thread, the chunks on its copy threads; the graph changes in
 * prepare/commit/abort/clean on the main loop. {@link #working}, {@link #ioStatus} and
 * {@link #speed} are volatile for query-block-jobs and the main loop's setSpeed.
 */
public abstract class ChainCopyJob implements JobDriver<Record, Record>, BlockJob {
    private static final Logger LOG = LoggerFactory.getLogger(ChainCopyJob.class);
    /** QEMU's STREAM_CHUNK and COMMIT_BUFFER_SIZE: 512 KiB (the chunk under a speed limit). */
    static final long CHUNK = 512 * 1024;
    /** The chunk without a speed limit. */
    static final long FAST_CHUNK = 2L << 20;
    /** Chunks in flight without a speed limit. */
    static final int IN_FLIGHT = 4;
    /** Bytes moved between two flushes of the destination while copying. */
    static final long FLUSH_EVERY = 256L << 20;
    /** How long an idle copy thread waits for the next chunk before it ends. */
    private static final Duration COPY_THREAD_KEEP_ALIVE = Duration.ofSeconds(5);

    /** Announces BLOCK_JOB_ERROR and applies a stop (pauses the job), on the main loop. */
    @FunctionalInterface
    public interface ErrorReporter {
        CompletableFuture<Void> onError(String jobId, boolean read, BlockErrorAction action);
    }

    /**
     * The graph change the job makes at its end: {@code overlay}'s backing becomes {@code base}
     * (null: none), recorded in its image as {@code backingFile} of {@code backingFormat}.
     */
    record Relink(BlockGraph graph, BlockNode overlay, BlockNode base, String backingFile, String backingFormat) {
        Relink {
            Objects.requireNonNull(graph);
            Objects.requireNonNull(overlay);
        }
    }

    private final String id;
    /** The node read from: what the guest sees at the top of the part of the chain the job works on. */
    protected final BlockNode top;
    /** The graph change made in prepare. */
    protected final Relink relink;
    private final BlockdevOnError onError;
    private final ErrorReporter reporter;
    /** Main loop: gives back what the start took (the claim on the chain, a temporary read-write mode). */
    private final Runnable release;
    private volatile boolean working;
    private volatile String ioStatus = "ok";
    /** The speed limit (0: none); set on the creating thread and the main loop, read by the job thread. */
    private volatile long speed;
    /** Chunks handed to the copy threads and not yet taken. Job thread only. */
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();
    /** The copy threads while run() runs. Job thread only. */
    private ThreadPoolExecutor threads;
    /** The flush of the destination in flight, or a completed future. Job thread only. */
    private CompletableFuture<Void> flushing = CompletableFuture.completedFuture(null);
    /** Bytes moved since the last flush began. Job thread only. */
    private long unflushed;

    /** One chunk moving on a copy thread. */
    private record Pending(long offset, long length, MemorySegment buf, CompletableFuture<Outcome> result) {
    }

    /** How a chunk went: the bytes moved, or the error and whether it came from a read. */
    private record Outcome(long moved, BlockIOException error, boolean reading) {
    }

    protected ChainCopyJob(String id, BlockNode top, Relink relink, BlockdevOnError onError, ErrorReporter reporter,
            Runnable release) {
        this.id = Objects.requireNonNull(id);
        this.top = Objects.requireNonNull(top);
        this.relink = Objects.requireNonNull(relink);
        this.onError = Objects.requireNonNull(onError);
        this.reporter = Objects.requireNonNull(reporter);
        this.release = Objects.requireNonNull(release);
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public boolean isBusy() {
        return working;
    }

    @Override
    public String ioStatus() {
        return ioStatus;
    }

    /** The ranges of [offset, offset + length) to move, in order. Any copy thread. */
    protected abstract List<Extent> rangesToMove(long offset, long length) throws BlockIOException;

    /** Stores {@code data} (read through {@link #top}) at {@code offset}. Any copy thread. */
    protected abstract void store(long offset, MemorySegment data) throws BlockIOException;

    /** The node {@link #store} writes to (flushed while copying). */
    protected abstract BlockNode destination();

    @Override
    public void setSpeed(long bytesPerSecond) {
        speed = bytesPerSecond;
    }

    @Override
    public void run(JobContext ctx) throws Exception {
        working = true;
        boolean limited = speed > 0;
        long chunk = limited ? CHUNK : FAST_CHUNK;
        int inFlight = limited ? 1 : IN_FLIGHT;
        threads = CopyThreads.pool(id, inFlight, COPY_THREAD_KEEP_ALIVE);
        try (Arena arena = Arena.ofShared()) {
            ArrayDeque<MemorySegment> free = new ArrayDeque<>();
            for (int i = 0; i < (limited ? 1 : 2 * inFlight); i++) {
                free.add(arena.allocate(chunk, 4096));
            }
            long size = top.size();
            ctx.progressRemaining(size);
            try {
                for (long off = 0; off < size; off += chunk) {
                    if (free.isEmpty()) {
                        free.add(finishOldest(ctx));
                    }
                    working = false;
                    ctx.checkpoint(); // pause point (pause() waits for the chunks in flight)
                    working = true;
                    long o = off;
                    long n = Math.min(chunk, size - off);
                    MemorySegment buf = free.poll();
                    pending.add(new Pending(o, n, buf,
                            CompletableFuture.supplyAsync(() -> attempt(o, n, buf), threads)));
                }
                while (!pending.isEmpty()) {
                    finishOldest(ctx);
                }
            } finally {
                awaitInFlight(); // the buffers die with the arena: nothing may still write them
                pending.clear();
                flushing.join();
            }
        } finally {
            threads.shutdown();
            working = false;
        }
    }

    /**
     * Takes the oldest chunk's result: progress, the speed limit, and on an error the policy
     * (retrying on the job thread after a stop). Returns its buffer for the next chunk.
     */
    private MemorySegment finishOldest(JobContext ctx) throws ChainJobException {
        Pending p = pending.peek();
        Outcome o = p.result().join();
        long moved = o.error() == null ? o.moved() : afterError(ctx, p, o);
        pending.poll();
        ioStatus = "ok";
        ctx.progressDone(p.length());
        if (moved > 0) {
            unflushed += moved;
            if (unflushed >= FLUSH_EVERY && flushing.isDone()) {
                unflushed = 0;
                // a platform thread of its own (an fdatasync pins a virtual thread's carrier)
                flushing = CompletableFuture.runAsync(this::flushQuietly,
                        r -> Thread.ofPlatform().daemon(true).name(id + "-flush").start(r));
            }
            working = false;
            ctx.rateLimit(moved);
            working = true;
        }
        return p.buf();
    }

    /** Applies the error policy to a failed chunk, retrying it after each stop; returns the bytes moved. */
    private long afterError(JobContext ctx, Pending p, Outcome failed) throws ChainJobException {
        Outcome o = failed;
        for (;;) {
            BlockIOException e = o.error();
            BlockErrorAction action = onError.decide(e.errno());
            ioStatus = e.errno() == Errno.ENOSPC.code() ? "nospace" : "failed";
            reporter.onError(id, o.reading(), action).join();
            switch (action) {
                case REPORT -> throw new ChainJobException(strerror(e.errno()), e);
                case IGNORE -> {
                    return 0;
                }
                default -> {
                    // stop: the reporter paused the job; park at the checkpoint, then retry
                }
            }
            working = false;
            ctx.checkpoint();
            working = true;
            o = attempt(p.offset(), p.length(), p.buf());
            if (o.error() == null) {
                return o.moved();
            }
        }
    }

    /** Moves one chunk; never throws an I/O error (it is the outcome). Copy thread, or the job thread on a retry. */
    private Outcome attempt(long off, long n, MemorySegment buf) {
        boolean reading = true;
        try {
            long moved = 0;
            for (Extent e : rangesToMove(off, n)) {
                MemorySegment part = buf.asSlice(e.offset() - off, e.length());
                reading = true;
                top.read(e.offset(), part);
                reading = false;
                store(e.offset(), part);
                moved += e.length();
            }
            return new Outcome(moved, null, false);
        } catch (BlockIOException e) {
            return new Outcome(0, e, reading);
        } catch (RuntimeException e) {
            // a bug below: fail the chunk as an I/O error (as the mirror does) rather than lose it
            return new Outcome(0, new BlockIOException(Errno.EIO, String.valueOf(e), e), reading);
        }
    }

    /** A flush while copying: best effort, the final flush reports what fails. Copy thread. */
    private void flushQuietly() {
        try {
            destination().flush();
        } catch (BlockIOException | RuntimeException e) {
            LOG.debug("job '{}': flush of '{}' while copying failed: {}", id, destination().nodeName(), e.getMessage());
        }
    }

    /** Waits until no chunk is moving (results stay queued, taken in order later). */
    private void awaitInFlight() {
        for (Pending p : pending) {
            p.result().exceptionally(t -> null).join();
        }
    }

    /** QEMU's block-job pause waits for the job's I/O: no chunk moves while the job is paused. Job thread. */
    @Override
    public void pause() {
        awaitInFlight();
    }

    /** QEMU's stream_prepare / commit_prepare: the new backing link and file name; a failure fails the job. */
    @Override
    public void prepare() throws Exception {
        relink.graph().setBacking(relink.overlay(), relink.base(), relink.backingFile(), relink.backingFormat());
    }

    @Override
    public void clean() {
        release.run();
    }

    private static String strerror(int errno) {
        Errno e = Errno.of(errno);
        return e != null ? e.strerror() : "Unknown error " + errno;
    }

    /** The job failed; the message is the job's error (strerror of the errno, as QEMU). */
    static final class ChainJobException extends Exception {
        private static final long serialVersionUID = 1L;

        ChainJobException(String message, Throwable cause) {
            super(message, cause);
        }

        ChainJobException(String message) {
            super(message);
        }
    }
}
