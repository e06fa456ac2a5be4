package dev.converge.nbd.server;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The threads that run NBD requests: a virtual thread for a quick request, a pooled platform thread
 * (shared by every server and connection of the process, as QEMU's block thread pool is) for the
 * rest.
 *
 * <p>Why two kinds, measured with nbdcopy and fio on a 2-CPU machine against qemu-nbd:
 * <ul>
 * <li>Storage I/O goes through FFM downcalls (pread/pwrite/fdatasync), which pin a virtual thread's
 *     carrier for the whole call. With a virtual thread per request, 256 KiB requests in flight
 *     occupied every carrier and starved the connection reader and the socket writes: platform
 *     threads took nbdcopy reads from 0.84 to 0.94-1.04 of qemu-nbd's throughput and writes from
 *     0.97 to 1.08-1.20.</li>
 * <li>For small reads and writes the hand-off dominates: waking a parked platform thread is a futex
 *     wake and a context switch, starting a virtual thread is a queue push. Platform threads only
 *     took 4 KiB random reads at QD16 from ~1.5-1.8 to ~1.1-1.2 of qemu-nbd's ops/s; virtual threads
 *     for them brought it back to ~1.3-1.5. Such a request pins its carrier for a page-cache copy.</li>
 * </ul>
 * So a request is quick ({@link #QUICK_IO}) when it is a READ or WRITE of at most 64 KiB without
 * FUA; flushes, FUA writes, zeroing, trims and block status may block for long and go to the pool.
 *
 * <p>The pool is unbounded by itself and bounded by its users: each connection has at most
 * {@code maxInFlight} requests in flight and a server at most {@code maxConnections} connections.
 * Idle threads end after {@link #KEEP_ALIVE}. Threads are daemons: a request still running when the
 * JVM exits has no reply to send anyway.
 */
final class RequestThreads {
    /** Largest READ/WRITE run on a virtual thread. */
    static final int QUICK_IO = 64 << 10;
    static final Duration KEEP_ALIVE = Duration.ofSeconds(30);

    private static final ExecutorService POOL = new ThreadPoolExecutor(0, Integer.MAX_VALUE,
            KEEP_ALIVE.toMillis(), TimeUnit.MILLISECONDS, new SynchronousQueue<>(),
            Thread.ofPlatform().daemon(true).name("nbd-request-", 0).factory());

    private RequestThreads() {
    }

    /** Runs {@code task} now: on a new virtual thread when {@code quick}, else on a pooled platform thread. */
    static void execute(Runnable task, boolean quick) {
        if (quick) {
            Thread.ofVirtual().name("nbd-request").start(task);
        } else {
            POOL.execute(task);
        }
    }
}
