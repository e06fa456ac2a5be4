package dev.converge.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.converge.nbd.wire.Request;
import dev.converge.qmp.tls.Transport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The combining reply writer: a thread whose reply finds another being written queues it and goes on
 * (it never parks behind the other's write); the writing thread sends it next, in order; an action
 * queued with afterReplies runs only once the replies queued before it are out; after a failed write
 * the rest is released unsent and the release actions still run.
 */
class ReplyWriterTest {

    /** Records the cookie of every simple reply header written; the first write waits for {@link #go}. */
    private static final class HeldTransport implements Transport {
        final List<Long> cookies = new CopyOnWriteArrayList<>();
        final CountDownLatch firstWriteStarted = new CountDownLatch(1);
        final CountDownLatch go = new CountDownLatch(1);
        final AtomicInteger writes = new AtomicInteger();
        volatile boolean fail;

        @Override
        public int read(ByteBuffer dst) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void write(ByteBuffer... srcs) throws IOException {
            if (writes.getAndIncrement() == 0) {
                firstWriteStarted.countDown();
                try {
                    go.await();
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
            }
            if (fail) {
                throw new IOException("broken pipe");
            }
            cookies.add(srcs[0].getLong(8)); // simple reply: magic, error, cookie
        }

        @Override
        public boolean secure() {
            return false;
        }

        @Override
        public String peer() {
            return "test";
        }

        @Override
        public void close() {
        }
    }

    @Test
    void aReplyQueuedBehindAnotherGoesOutNextWithoutItsThreadWaiting() throws Exception {
        HeldTransport t = new HeldTransport();
        ReplyWriter w = new ReplyWriter(t, false, false);
        CompletableFuture<Void> first = CompletableFuture.runAsync(() -> {
            try {
                w.done(Request.read(1, 0, 0));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        t.firstWriteStarted.await();
        AtomicBoolean released = new AtomicBoolean();
        // this thread queues its reply and its release and returns while the first write is held
        w.done(Request.read(2, 0, 0));
        w.afterReplies(() -> released.set(true));
        assertThat(t.cookies).isEmpty();
        assertThat(released).as("not before its reply is out").isFalse();
        t.go.countDown();
        first.get();
        assertThat(t.cookies).containsExactly(1L, 2L);
        assertThat(released).isTrue();
    }

    @Test
    void afterAFailedWriteTheRestIsReleasedUnsent() throws Exception {
        HeldTransport t = new HeldTransport();
        t.go.countDown();
        t.fail = true;
        ReplyWriter w = new ReplyWriter(t, false, false);
        assertThatThrownBy(() -> w.done(Request.read(1, 0, 0))).isInstanceOf(IOException.class)
                .hasMessage("broken pipe");
        AtomicBoolean released = new AtomicBoolean();
        w.done(Request.read(2, 0, 0)); // dropped: the connection is gone
        w.afterReplies(() -> released.set(true));
        assertThat(released).isTrue();
        assertThat(t.writes).hasValue(1);
        assertThat(t.cookies).isEmpty();
    }

    @Test
    void manyThreadsRepliesAllGoOutWholeAndEveryReleaseRuns() throws Exception {
        HeldTransport t = new HeldTransport();
        t.go.countDown();
        ReplyWriter w = new ReplyWriter(t, false, false);
        AtomicInteger released = new AtomicInteger();
        int threads = 8;
        int each = 500;
        List<Thread> started = new java.util.ArrayList<>();
        for (int k = 0; k < threads; k++) {
            int base = k * each;
            started.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < each; i++) {
                    try {
                        w.done(Request.read(base + i, 0, 0));
                        w.afterReplies(released::incrementAndGet);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
            }));
        }
        for (Thread th : started) {
            th.join();
        }
        await().until(() -> released.get() == threads * each);
        assertThat(t.cookies).hasSize(threads * each).doesNotHaveDuplicates();
        for (int k = 0; k < threads; k++) {
            int base = k * each;
            List<Long> mine = t.cookies.stream().filter(c -> c >= base && c < base + each).toList();
            assertThat(mine).as("thread %d's replies in its order", k).isSorted();
        }
    }
}
