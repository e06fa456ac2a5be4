package dev.converge.block.mirror;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A mirror job's copy buffers (QEMU's mirror keeps its buf-size of buffers for the job's
 * life, too): at most {@code capacity} of {@code bufferBytes} each, allocated from one shared
 * arena on first need and then reused, so a copy operation neither allocates nor zero-fills.
 *
 * <h2>Contents</h2>
 * A buffer handed out holds whatever an earlier operation left in it: the taker must overwrite
 * every byte it passes on. The mirror's copy does (a read fills the slice it then writes; a
 * zero range is written as write-zeroes and never touches the buffer).
 *
 * <h2>Never waits</h2>
 * {@link #take} never blocks: the mirror's in-flight limit already bounds the buffers lent at
 * once to {@code capacity}, so running out is a bug and fails at once.
 *
 * <h2>Lifetime</h2>
 * {@link #close()} frees the arena, and with it every buffer, once none is lent: at once when
 * every buffer taken was given back (the mirror's clean runs after its last operation ended), else
 * when the last one comes back, so memory is never freed under its holder and never leaked.
 * Nothing can be taken after close.
 * <p>
 * Thread-safe: take and give from any thread; a lock rather than a concurrent queue because the
 * lent count and the closed flag must change together with the free list.
 */
final class CopyBuffers implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CopyBuffers.class);
    /** Alignment of every buffer: O_DIRECT files use it without a bounce buffer. */
    static final long ALIGN = 4096;

    private final String owner;
    private final int capacity;
    private final long bufferBytes;
    /** Shared: buffers are used on the copy operations' threads (and NBD reader threads). */
    private final Arena arena = Arena.ofShared();
    private final ReentrantLock lock = new ReentrantLock();
    /** Buffers allocated and not lent. Guarded by {@link #lock}. */
    private final ArrayDeque<MemorySegment> free = new ArrayDeque<>();
    /** Buffers allocated so far, at most {@link #capacity}. Guarded by {@link #lock}. */
    private int allocated;
    /** Buffers taken and not given back. Guarded by {@link #lock}. */
    private int lent;
    /** Set once by {@link #close()}. Guarded by {@link #lock}. */
    private boolean closed;

    /**
     * @param owner       named in logs (the job id)
     * @param capacity    most buffers lent at once
     * @param bufferBytes size of each buffer
     */
    CopyBuffers(String owner, int capacity, long bufferBytes) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity: " + capacity + " (expected: >= 1)");
        }
        if (bufferBytes < 1) {
            throw new IllegalArgumentException("bufferBytes: " + bufferBytes + " (expected: >= 1)");
        }
        this.owner = owner;
        this.capacity = capacity;
        this.bufferBytes = bufferBytes;
    }

    /**
     * A whole buffer of {@link #bufferBytes()} bytes, with stale contents; give it back (the same
     * segment, not a slice) with {@link #give}.
     *
     * @throws IllegalStateException all {@code capacity} buffers are lent, or the pool is closed (a caller bug)
     */
    MemorySegment take() {
        MemorySegment b;
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("copy buffers of '" + owner + "' are closed");
            }
            b = free.pollFirst();
            if (b == null) {
                if (allocated >= capacity) {
                    throw new IllegalStateException("copy buffers of '" + owner + "': all " + capacity
                            + " are lent");
                }
                b = arena.allocate(bufferBytes, ALIGN);
                allocated++;
            }
            lent++;
        } finally {
            lock.unlock();
        }
        return b;
    }

    /**
     * Gives back a buffer from {@link #take}; the caller no longer touches it, nor any slice of it.
     *
     * @throws IllegalArgumentException not a whole buffer of this pool's size (a caller bug)
     * @throws IllegalStateException    more given back than taken (a caller bug)
     */
    void give(MemorySegment buf) {
        if (buf.byteSize() != bufferBytes) {
            throw new IllegalArgumentException("buf: " + buf.byteSize() + " bytes (expected: " + bufferBytes + ")");
        }
        lock.lock();
        try {
            if (lent <= 0) {
                throw new IllegalStateException("copy buffers of '" + owner + "': given back more than taken");
            }
            lent--;
            if (!closed) {
                free.addFirst(buf); // the most recently used first: its pages are likely still warm
                return;
            }
            if (lent > 0) {
                return;
            }
        } finally {
            lock.unlock();
        }
        arena.close(); // closed while lent, and this was the last one out
        LOG.debug("copy buffers of '{}': freed when the last lent buffer came back", owner);
    }

    /** The size of every buffer. */
    long bufferBytes() {
        return bufferBytes;
    }

    /** Buffers allocated so far (for tests). */
    int allocated() {
        lock.lock();
        try {
            return allocated;
        } finally {
            lock.unlock();
        }
    }

    /** Whether the memory was freed (for tests). */
    boolean freed() {
        return !arena.scope().isAlive();
    }

    /** Buffers lent now (for tests). */
    int lent() {
        lock.lock();
        try {
            return lent;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Frees every buffer now if none is lent, else when the last lent one is given back;
     * idempotent. Nothing can be taken afterwards.
     */
    @Override
    public void close() {
        int stillLent;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            free.clear();
            stillLent = lent;
        } finally {
            lock.unlock();
        }
        if (stillLent > 0) {
            LOG.debug("copy buffers of '{}': closed with {} lent; freed when they come back", owner, stillLent);
            return;
        }
        arena.close();
    }
}
