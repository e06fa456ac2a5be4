package dev.converge.block;

import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The copy threads of a block job (mirror, backup, stream, commit): platform threads, because a
 * copy blocks in pread/pwrite and must not pin a carrier; named after the job; at a lower CPU
 * priority than the threads that serve the guest ({@link BackgroundPriority}); they end when idle
 * for {@code keepAlive}, so an idle job holds none.
 */
public final class CopyThreads {
    private CopyThreads() {
    }

    /** A fixed pool of {@code threads} threads named {@code JOBID-copy-N}. */
    public static ThreadPoolExecutor pool(String jobId, int threads, Duration keepAlive) {
        ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, keepAlive.toMillis(), TimeUnit.MILLISECONDS,
                new LinkedBlockingQueue<>(), backgroundThreads(Thread.ofPlatform().daemon(true).name(jobId + "-copy-", 0).factory()));
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    /** Threads of {@code factory} that first lower their own CPU priority. */
    private static ThreadFactory backgroundThreads(ThreadFactory factory) {
        return work -> factory.newThread(() -> {
            BackgroundPriority.lowerCallingThread();
            work.run();
        });
    }
}
