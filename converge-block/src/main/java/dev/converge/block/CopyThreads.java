package dev.converge.block;

import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The copy threads of a block job (mirror, backup): platform threads, because a copy blocks in
 * pread/pwrite and must not pin a carrier; named after the job; they end when idle for
 * {@code keepAlive}, so an idle job holds none.
 */
public final class CopyThreads {
    private CopyThreads() {
    }

    /** A fixed pool of {@code threads} threads named {@code JOBID-copy-N}. */
    public static ThreadPoolExecutor pool(String jobId, int threads, Duration keepAlive) {
        ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, keepAlive.toMillis(), TimeUnit.MILLISECONDS,
                new LinkedBlockingQueue<>(), Thread.ofPlatform().daemon(true).name(jobId + "-copy-", 0).factory());
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }
}
