package dev.converge.job;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A tiny driver for tests (as QEMU's test-blockjob CancelJob/YieldingJob): converges on
 * demand, fails on demand, finishes on demand, and otherwise sleeps until completed or
 * (soft) cancelled. Counts every hook call.
 */
final class TestDriver implements JobDriver<TestDriver.Change, TestDriver.Info> {
    /** The test kind: job-change takes a level, query-jobs shows the cancels. */
    static final JobKind<Change, Info> KIND = new JobKind<>("test", Change.class, Info.class);

    /** What job-change may set on a test job. */
    record Change(java.util.OptionalLong level) {
    }

    /** What query-jobs shows of a test job. */
    record Info(int testCancels) {
    }

    /** What the test tells the job thread to do. */
    record Action(Kind kind, long n, CountDownLatch done) {
        enum Kind { CONVERGE, PROGRESS, REMAINING, FINISH, FAIL, INFO }

        static Action of(Kind k, long n) {
            return new Action(k, n, new CountDownLatch(1));
        }
    }

    private final BlockingQueue<Action> actions = new LinkedBlockingQueue<>();
    /**
     * Told the name of every hook as it runs; the {@link Harness} checks there that the engine
     * does not hold the job lock (the lock contract).
     */
    volatile java.util.function.Consumer<String> hookProbe = hook -> { };
    final CountDownLatch started = new CountDownLatch(1);
    volatile JobContext ctx;

    /** Whether cancel of a READY job is soft (mirror-like); otherwise every cancel is forced. */
    volatile boolean softCancelWhenReady;
    /** Whether every soft cancel stays soft (the driver never forces it). */
    volatile boolean alwaysSoft;
    /** Whether job-complete is supported. */
    volatile boolean completable = true;
    /** When set, prepare() throws it. */
    volatile Exception prepareFailure;

    final AtomicInteger prepareCalls = new AtomicInteger();
    final AtomicInteger commitCalls = new AtomicInteger();
    final AtomicInteger abortCalls = new AtomicInteger();
    final AtomicInteger cleanCalls = new AtomicInteger();
    final AtomicInteger pauseCalls = new AtomicInteger();
    final AtomicInteger resumeCalls = new AtomicInteger();
    final AtomicInteger cancelCalls = new AtomicInteger();
    final AtomicInteger completeCalls = new AtomicInteger();
    final AtomicInteger speedCalls = new AtomicInteger();
    volatile Change lastChange;
    /** Whether run() saw a soft cancel and finished without "switching over". */
    volatile boolean finishedOnSoftCancel;
    volatile boolean finishedOnComplete;

    @Override
    public void run(JobContext ctx) throws Exception {
        hookProbe.accept("run");
        this.ctx = ctx;
        started.countDown();
        while (true) {
            Action a = actions.poll();
            if (a != null) {
                switch (a.kind()) {
                    case CONVERGE -> ctx.setReady();
                    case PROGRESS -> ctx.progressDone(a.n());
                    case REMAINING -> ctx.progressRemaining(a.n());
                    case INFO -> ctx.infoChanged();
                    case FINISH -> {
                        a.done().countDown();
                        return;
                    }
                    case FAIL -> {
                        a.done().countDown();
                        throw new IOException("failure " + a.n());
                    }
                }
                a.done().countDown();
                continue;
            }
            if (ctx.completeRequested()) {
                finishedOnComplete = true;
                return;
            }
            if (ctx.cancelRequested() && !ctx.isCancelled()) {
                finishedOnSoftCancel = true;
                return;
            }
            ctx.sleep(TestTimeouts.LONG);
        }
    }

    /** Hands an action to the running job thread and waits until it was carried out. */
    void act(Action.Kind kind, long n) throws InterruptedException {
        assertThat(started.await(TestTimeouts.SHORT.toMillis(), TimeUnit.MILLISECONDS)).as("job started").isTrue();
        Action a = Action.of(kind, n);
        actions.add(a);
        ctx.wake();
        assertThat(a.done().await(TestTimeouts.SHORT.toMillis(), TimeUnit.MILLISECONDS)).as("action " + kind).isTrue();
    }

    void act(Action.Kind kind) throws InterruptedException {
        act(kind, 0);
    }

    @Override
    public void pause() {
        hookProbe.accept("pause");
        pauseCalls.incrementAndGet();
    }

    @Override
    public void resume() {
        hookProbe.accept("resume");
        resumeCalls.incrementAndGet();
    }

    @Override
    public boolean cancel(boolean force) {
        hookProbe.accept("cancel");
        cancelCalls.incrementAndGet();
        JobContext c = ctx;
        if (alwaysSoft) {
            return force;
        }
        return force || !softCancelWhenReady || c == null || !c.isReady();
    }

    @Override
    public void complete() {
        hookProbe.accept("complete");
        if (!completable) {
            throw new UnsupportedOperationException("complete");
        }
        completeCalls.incrementAndGet();
    }

    @Override
    public void setSpeed(long bytesPerSecond) {
        hookProbe.accept("setSpeed");
        speedCalls.incrementAndGet();
    }

    @Override
    public void change(Change options) {
        hookProbe.accept("change");
        if (options.level().isPresent() && options.level().getAsLong() < 0) {
            throw JobException.generic("Parameter 'level' expects a non-negative integer");
        }
        lastChange = options;
    }

    @Override
    public void prepare() throws Exception {
        hookProbe.accept("prepare");
        prepareCalls.incrementAndGet();
        Exception e = prepareFailure;
        if (e != null) {
            throw e;
        }
    }

    @Override
    public void commit() {
        hookProbe.accept("commit");
        commitCalls.incrementAndGet();
    }

    @Override
    public void abort() {
        hookProbe.accept("abort");
        abortCalls.incrementAndGet();
    }

    @Override
    public void clean() {
        hookProbe.accept("clean");
        cleanCalls.incrementAndGet();
    }

    @Override
    public Info info() {
        hookProbe.accept("info");
        return new Info(cancelCalls.get());
    }
}
