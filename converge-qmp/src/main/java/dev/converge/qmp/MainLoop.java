package dev.converge.qmp;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The daemon's main loop (QEMU's main loop and big lock): one thread that owns all management
 * state. QMP handlers run here, one at a time, so the effects of commands and the events they
 * emit come out in one total order. Data-plane work never runs here.
 */
public final class MainLoop implements Executor, AutoCloseable {
    private final ExecutorService executor;
    private volatile Thread thread;

    public MainLoop() {
        this.executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "main-loop");
            t.setDaemon(true);
            thread = t;
            return t;
        });
    }

    @Override
    public void execute(Runnable task) {
        executor.execute(task);
    }

    /** Runs {@code task} on the main loop and returns its result as a future. */
    public <T> CompletableFuture<T> submit(Callable<T> task) {
        CompletableFuture<T> f = new CompletableFuture<>();
        executor.execute(() -> {
            try {
                f.complete(task.call());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    /**
     * Runs {@code task} on the main loop and waits for it; runs it directly when already there.
     * Runtime exceptions of the task are rethrown as they are.
     */
    public <T> T call(Callable<T> task) {
        if (inMainLoop()) {
            try {
                return task.call();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        try {
            return submit(task).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the main loop", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Whether the calling thread is the main loop. */
    public boolean inMainLoop() {
        return Thread.currentThread() == thread;
    }

    @Override
    public void close() {
        executor.shutdown();
        try {
            if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
