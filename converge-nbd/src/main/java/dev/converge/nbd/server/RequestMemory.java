package dev.converge.nbd.server;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The process-wide budget of NBD request buffers (READ data, WRITE payloads), shared by every
 * connection of every server as QEMU's NBD server shares one process' memory.
 *
 * <p>Every buffer that exists counts against {@link #capacity()}: lent to a request or kept in the
 * pool for reuse. A request that would exceed it waits for memory in FIFO order (a fair semaphore, so
 * a 32 MiB request is not starved by a stream of small ones) for at most the time its caller allows,
 * and then gets null: the server answers ENOMEM and the connection goes on. Nothing here throws
 * {@link OutOfMemoryError} at a request: the budget is taken before the memory is.
 *
 * <p>Buffers are direct and page-aligned (storage reads into them and writes from them with O_DIRECT,
 * and the socket without a bounce copy). Each is allocated in its own {@link Arena} and freed the
 * moment it leaves the pool, not when the garbage collector gets round to it: a burst of 32 MiB
 * requests gives its memory back as soon as they are answered. Buffers of up to {@link #POOLED}
 * bytes are pooled (at most {@link #poolLimit()}, one pool for all connections, so idle connections
 * hold none); larger ones are freed after each request.
 *
 * <p>Thread-safe. A buffer must not be touched after {@link #give}: a freed buffer throws
 * {@link IllegalStateException} on access rather than reading freed memory.
 */
final class RequestMemory {
    private static final Logger LOG = LoggerFactory.getLogger(RequestMemory.class);
    /** Requests up to this size (nbdcopy's 256 KiB, qemu's 1 MiB mirror chunks...) reuse a pooled buffer. */
    static final int POOLED = 1 << 20;
    /** Accounting unit: one page, so 1 GiB is 2^18 permits and fits a semaphore's int. */
    static final int PAGE = 4096;
    /** Smallest budget: two requests of the largest size. */
    static final long MIN_CAPACITY = 64L << 20;
    /** Upper bound of the default capacity. */
    static final long DEFAULT_MAX = 1L << 30;

    /** The budget of the process, sized from the JVM's direct memory limit. */
    static final RequestMemory SHARED = new RequestMemory(defaultCapacity(), 64);

    private final long capacity;
    /** Free pages of the budget. */
    private final Semaphore pages;
    /** Pooled buffers, each of capacity {@link #POOLED}, counted in the budget. */
    private final ArrayBlockingQueue<ByteBuffer> pool;
    /** The arena of every live buffer, by identity; guarded by {@link #arenaLock}. */
    private final Map<ByteBuffer, Arena> arenas = new IdentityHashMap<>();
    private final ReentrantLock arenaLock = new ReentrantLock();

    RequestMemory(long capacity, int poolLimit) {
        if (capacity < MIN_CAPACITY) {
            throw new IllegalArgumentException("capacity: " + capacity + " (expected: >= "
                    + MIN_CAPACITY + ")");
        }
        this.capacity = capacity;
        this.pages = new Semaphore((int) (capacity / PAGE), true);
        this.pool = new ArrayBlockingQueue<>(Math.max(1, Math.min(poolLimit, (int) (capacity / POOLED / 4))));
    }

    /**
     * Half the JVM's direct memory limit ({@code -XX:MaxDirectMemorySize}, which defaults to the heap
     * limit), at most {@link #DEFAULT_MAX}; {@code -Dconverge.nbd.request-memory=BYTES} overrides it.
     */
    static long defaultCapacity() {
        String override = System.getProperty("converge.nbd.request-memory");
        if (override != null) {
            try {
                return Math.max(MIN_CAPACITY, Long.parseLong(override));
            } catch (NumberFormatException e) {
                LOG.warn("converge.nbd.request-memory: '{}' is not a number of bytes; using the default", override);
            }
        }
        long direct = Runtime.getRuntime().maxMemory();
        try {
            var hotspot = ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            long v = Long.parseLong(hotspot.getVMOption("MaxDirectMemorySize").getValue());
            if (v > 0) {
                direct = v;
            }
        } catch (RuntimeException e) {
            // not HotSpot: the heap limit is the JDK's default for direct memory too
        }
        return Math.max(MIN_CAPACITY, Math.min(DEFAULT_MAX, direct / 2));
    }

    long capacity() {
        return capacity;
    }

    int poolLimit() {
        return pool.remainingCapacity() + pool.size();
    }

    /** Bytes of the budget in use now (lent and pooled). */
    long used() {
        return capacity - (long) pages.availablePermits() * PAGE;
    }

    /**
     * A buffer with position 0 and limit {@code len}, or null when the budget has no room within
     * {@code waitNanos}. Interrupts are deferred, not lost.
     */
    ByteBuffer take(int len, long waitNanos) {
        if (len <= POOLED) {
            ByteBuffer b = pool.poll();
            if (b != null) {
                return b.clear().limit(len);
            }
        }
        int size = footprint(len);
        if (!acquire(size / PAGE, waitNanos)) {
            return null;
        }
        try {
            return allocate(size).limit(len);
        } catch (OutOfMemoryError e) {
            // the system itself is out of memory, below our budget: the request gets ENOMEM all the same
            pages.release(size / PAGE);
            LOG.warn("cannot allocate a request buffer of {} bytes: {}", size, e.toString());
            return null;
        }
    }

    /** Returns a buffer from {@link #take}: pooled while there is room, else freed at once. */
    void give(ByteBuffer b) {
        if (b.capacity() == POOLED && pool.offer(b)) {
            return;
        }
        free(b);
    }

    /** Frees the pooled buffers (tests, and to prove memory comes back). */
    void trim() {
        ByteBuffer b;
        while ((b = pool.poll()) != null) {
            free(b);
        }
    }

    private boolean acquire(int n, long waitNanos) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return pages.tryAcquire(n, Math.max(0, waitNanos), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true; // a request thread is never interrupted on purpose; finish the wait
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private ByteBuffer allocate(int size) {
        Arena arena = Arena.ofShared();
        try {
            ByteBuffer b = arena.allocate(size, PAGE).asByteBuffer();
            arenaLock.lock();
            try {
                arenas.put(b, arena);
            } finally {
                arenaLock.unlock();
            }
            return b;
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private void free(ByteBuffer b) {
        Arena arena;
        arenaLock.lock();
        try {
            arena = arenas.remove(b);
        } finally {
            arenaLock.unlock();
        }
        if (arena == null) {
            throw new IllegalArgumentException("not a buffer of this budget (or given back twice): " + b);
        }
        arena.close();
        pages.release(b.capacity() / PAGE);
    }

    /** The bytes a buffer for a request of {@code len} bytes takes from the budget. */
    static int footprint(int len) {
        return len <= POOLED ? POOLED : roundUp(len);
    }

    private static int roundUp(int len) {
        return (len + PAGE - 1) & -PAGE;
    }
}
