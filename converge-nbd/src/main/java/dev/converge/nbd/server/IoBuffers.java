package dev.converge.nbd.server;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * I/O buffers of one connection, for READ data and WRITE payloads alike: direct and page-aligned, so
 * storage reads straight into them and writes straight from them (no bounce buffer, even with
 * O_DIRECT) and the socket reads into and writes from them without a copy through the heap.
 * Buffers of up to {@link #POOLED} bytes are kept for reuse, at most one per request in flight,
 * created on demand; larger ones are allocated per request and left to the GC.
 * <p>
 * Not thread-confined (a backend may fill a buffer from another thread, as the nbd driver's reply
 * reader does); a buffer must not be touched after {@link #give} — the reply is written before it.
 * Thread-safe: the free list is a concurrent queue.
 */
final class IoBuffers {
    /** Requests up to this size (nbdcopy's 256 KiB, qemu's 1 MiB mirror chunks...) reuse a buffer. */
    static final int POOLED = 1 << 20;
    private static final int ALIGN = 4096;

    /** Buffers free for reuse. */
    private final ArrayBlockingQueue<ByteBuffer> free;

    IoBuffers(int maxInFlight) {
        this.free = new ArrayBlockingQueue<>(maxInFlight);
    }

    /** A buffer with position 0 and limit {@code len}. */
    ByteBuffer take(int len) {
        ByteBuffer b = len <= POOLED ? free.poll() : null;
        if (b == null) {
            b = allocate(Math.max(len, len <= POOLED ? POOLED : len));
        }
        return b.clear().limit(len);
    }

    /** Returns a buffer from {@link #take}; pooled sizes are kept while there is room. */
    void give(ByteBuffer b) {
        if (b.capacity() >= POOLED && b.capacity() < 2 * POOLED) {
            free.offer(b);
        }
    }

    private static ByteBuffer allocate(int len) {
        int rounded = (len + ALIGN - 1) & -ALIGN; // alignedSlice rounds both ends to the unit
        return ByteBuffer.allocateDirect(rounded + ALIGN).alignedSlice(ALIGN);
    }
}
