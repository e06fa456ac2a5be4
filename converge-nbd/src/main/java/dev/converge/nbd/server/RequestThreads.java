package dev.converge.nbd.server;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The platform threads that run NBD requests, shared by every server and connection of the process
 * (QEMU's block thread pool plays this part for qemu-nbd).
 *
 * <p>Why platform threads and not a virtual thread per request: storage I/O goes through FFM
 * downcalls (pread/pwrite), which pin a virtual thread's carrier for the whole call, so a few
 * requests in flight occupied every carrier and starved the connection's reader and the socket
 * writes; and each parked socket write went through the poller. Measured with nbdcopy on a 2-CPU
 * machine: reads 0.84 → 0.94-1.04 of qemu-nbd's throughput, writes 0.97 → 1.08-1.20.
 *
 * <p>The pool is unbounded by itself and bounded by its users: each connection has at most
 * {@code maxInFlight} requests in flight and a server at most {@code maxConnections} connections.
 * Idle threads end after {@link #KEEP_ALIVE}. Threads are daemons: a request still running when the
 * JVM exits has no reply to send anyway.
 */
final class RequestThreads {
    static final Duration KEEP_ALIVE = Duration.ofSeconds(30);

    private static final ExecutorService POOL = new ThreadPoolExecutor(0, Integer.MAX_VALUE,
            KEEP_ALIVE.toMillis(), TimeUnit.MILLISECONDS, new SynchronousQueue<>(),
            Thread.ofPlatform().daemon(true).name("nbd-request-", 0).factory());

    private RequestThreads() {
    }

    /** Runs {@code task} on a pooled platform thread, now (a new thread when none is idle). */
    static void execute(Runnable task) {
        POOL.execute(task);
    }
}
