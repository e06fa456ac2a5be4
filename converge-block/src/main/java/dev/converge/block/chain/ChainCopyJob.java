package dev.converge.block.chain;

import dev.converge.block.BlockIOException;
import dev.converge.block.BlockJob;
import dev.converge.block.BlockNode;
import dev.converge.block.Errno;
import dev.converge.block.Extent;
import dev.converge.block.mirror.BlockErrorAction;
import dev.converge.block.mirror.BlockdevOnError;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * What block-stream and block-commit share (QEMU's stream_run and commit_run): walk the disk
 * in chunks of {@value #CHUNK} bytes, ask which ranges of the chunk the job must move, read
 * them through {@code top} (what the guest sees there) and store them ({@link #store}); count
 * the whole chunk as progress, the bytes moved against the speed limit. An I/O error applies
 * the {@code on-error} policy (QEMU's block_job_error_action): report fails the job with the
 * errno's text, ignore skips the chunk, stop pauses the job (a user pause; resuming retries the
 * chunk); every error is announced (BLOCK_JOB_ERROR) first.
 *
 * <h2>Threads</h2>
 * run() on the job's thread; the graph changes of the subclasses in prepare/commit/abort/clean
 * on the main loop. {@link #working} and {@link #ioStatus} are volatile for query-block-jobs.
 */
public abstract class ChainCopyJob implements JobDriver<Record, Record>, BlockJob {
    /** QEMU's STREAM_CHUNK and COMMIT_BUFFER_SIZE: 512 KiB. */
    static final long CHUNK = 512 * 1024;

    /** Announces BLOCK_JOB_ERROR and applies a stop (pauses the job), on the main loop. */
    @FunctionalInterface
    public interface ErrorReporter {
        CompletableFuture<Void> onError(String jobId, boolean read, BlockErrorAction action);
    }

    private final String id;
    /** The node read from: what the guest sees at the top of the part of the chain the job works on. */
    protected final BlockNode top;
    private final BlockdevOnError onError;
    private final ErrorReporter reporter;
    private volatile boolean working;
    private volatile String ioStatus = "ok";

    protected ChainCopyJob(String id, BlockNode top, BlockdevOnError onError, ErrorReporter reporter) {
        this.id = Objects.requireNonNull(id);
        this.top = Objects.requireNonNull(top);
        this.onError = Objects.requireNonNull(onError);
        this.reporter = Objects.requireNonNull(reporter);
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

    /** The ranges of [offset, offset + length) to move, in order. Job thread. */
    protected abstract List<Extent> rangesToMove(long offset, long length) throws BlockIOException;

    /** Stores {@code data} (read through {@link #top}) at {@code offset}. Job thread. */
    protected abstract void store(long offset, MemorySegment data) throws BlockIOException;

    @Override
    public void run(JobContext ctx) throws Exception {
        working = true;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(CHUNK, 4096);
            long size = top.size();
            ctx.progressRemaining(size);
            for (long off = 0; off < size; off += CHUNK) {
                long n = Math.min(CHUNK, size - off);
                long moved = moveChunk(ctx, off, n, buf);
                ctx.progressDone(n);
                if (moved > 0) {
                    working = false;
                    ctx.rateLimit(moved);
                    working = true;
                }
            }
        } finally {
            working = false;
        }
    }

    /** Moves one chunk, applying the error policy; returns the bytes moved. */
    private long moveChunk(JobContext ctx, long off, long n, MemorySegment buf) throws ChainJobException {
        for (;;) {
            working = false;
            ctx.checkpoint(); // pause point; a stop parks here, and resuming retries the chunk
            working = true;
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
                ioStatus = "ok";
                return moved;
            } catch (BlockIOException e) {
                BlockErrorAction action = onError.decide(e.errno());
                ioStatus = e.errno() == Errno.ENOSPC.code() ? "nospace" : "failed";
                reporter.onError(id, reading, action).join();
                switch (action) {
                    case REPORT -> throw new ChainJobException(strerror(e.errno()), e);
                    case IGNORE -> {
                        return 0;
                    }
                    default -> {
                        // stop: the reporter paused the job; the next checkpoint parks, then we retry
                    }
                }
            }
        }
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
