package dev.converge.nbd.server;

import java.time.Duration;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * One daemon thread, shared by every NBD server of the process, that fires handshake time limits. A
 * limit that fires after its handshake has ended does nothing ({@link Connection#handshakeTimedOut}),
 * so tasks are never cancelled; they are removed from the queue when they run, and
 * {@code setRemoveOnCancelPolicy} is not needed. Each task only closes a socket, so one thread keeps
 * up with any number of them.
 */
final class HandshakeTimer {
    private static final ScheduledThreadPoolExecutor TIMER = new ScheduledThreadPoolExecutor(1,
            Thread.ofPlatform().daemon(true).name("nbd-handshake-timer").factory());

    static {
        TIMER.setKeepAliveTime(10, TimeUnit.SECONDS);
        TIMER.allowCoreThreadTimeOut(true); // no thread while no server has handshakes to time
    }

    private HandshakeTimer() {
    }

    static void schedule(Runnable task, Duration after) {
        TIMER.schedule(task, after.toNanos(), TimeUnit.NANOSECONDS);
    }
}
