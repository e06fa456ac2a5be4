package dev.converge.block;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.block.driver.NullNode;
import dev.converge.block.driver.RawNode;
import dev.converge.qmp.MainLoop;
import dev.converge.testing.TestTimeouts;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class WritePathTest {
    private final Arena arena = Arena.ofShared();
    private final MainLoop mainLoop = new MainLoop();
    private final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();

    @AfterEach
    void tearDown() {
        pool.shutdownNow();
        mainLoop.close();
        arena.close();
    }

    private static NullNode nullNode(String name, long size) {
        return new NullNode(name, NodeOptions.DEFAULTS, size, true, 0);
    }

    private static long ms(java.time.Duration d) {
        return d.toMillis();
    }

    @Test
    void bitmapSeesWritesFromManyThreads() throws Exception {
        NullNode n = nullNode("n", 64L << 20);
        DirtyBitmap b = n.addDirtyBitmap(null, 65536);
        int threads = 8;
        int perThread = 64; // each writes 64 distinct chunks
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> fs = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            fs.add(pool.submit(() -> {
                go.await();
                MemorySegment buf = arena.allocate(512);
                for (int i = 0; i < perThread; i++) {
                    n.write(((long) i * threads + id) * 65536 + 100, buf);
                }
                return null;
            }));
        }
        go.countDown();
        for (Future<?> f : fs) {
            f.get(ms(TestTimeouts.MEDIUM), TimeUnit.MILLISECONDS);
        }
        assertThat(b.dirtyChunks()).isEqualTo((long) threads * perThread);
        assertThat(b.nextClean(0)).isEqualTo((long) threads * perThread * 65536);
    }

    @Test
    void notifierSeesEveryWriteBeforeTheDriverAndCanFailIt() throws Exception {
        NullNode n = nullNode("n", 1 << 20);
        DirtyBitmap b = n.addDirtyBitmap(null, 4096);
        List<WriteRequest> seen = new CopyOnWriteArrayList<>();
        try (AutoCloseable reg = n.addBeforeWriteNotifier(seen::add)) {
            n.write(0, arena.allocate(10));
            n.writeZeroes(4096, 4096, Set.of(ReqFlag.MAY_UNMAP));
            n.discard(8192, 4096); // discard=ignore: never reaches the write path, as QEMU
        }
        n.write(0, arena.allocate(10));
        assertThat(seen).extracting(WriteRequest::kind)
                .containsExactly(WriteRequest.Kind.WRITE, WriteRequest.Kind.WRITE_ZEROES);
        b.clear();
        try (AutoCloseable reg = n.addBeforeWriteNotifier(r -> {
            throw new BlockIOException(Errno.EIO, "target failed");
        })) {
            assertThatThrownBy(() -> n.write(0, arena.allocate(10))).hasMessage("target failed");
        }
        assertThat(b.dirtyBytes()).as("a refused write changed nothing").isZero();
    }

    @Test
    void drainWaitsForInFlightWritesAndHoldsNewOnes() throws Exception {
        NullNode n = nullNode("n", 1 << 20);
        CountDownLatch inNotifier = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AutoCloseable reg = n.addBeforeWriteNotifier(r -> {
            if (r.offset() == 0) {
                inNotifier.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new BlockIOException(Errno.EIO, "interrupted");
                }
            }
        });
        Future<?> slow = pool.submit(() -> {
            n.write(0, arena.allocate(1));
            return null;
        });
        assertThat(inNotifier.await(ms(TestTimeouts.SHORT), TimeUnit.MILLISECONDS)).isTrue();
        CompletableFuture<DrainedSection> drained = CompletableFuture.supplyAsync(n::drain, pool);
        // the drain has begun (its section counts from its start) but cannot finish while the
        // write is in flight
        await().atMost(TestTimeouts.SHORT).until(n::isDrained);
        assertThat(n.inflight()).isEqualTo(1);
        assertThat(drained).isNotDone();
        release.countDown();
        DrainedSection section = drained.get(ms(TestTimeouts.SHORT), TimeUnit.MILLISECONDS);
        slow.get(ms(TestTimeouts.SHORT), TimeUnit.MILLISECONDS);
        assertThat(n.isDrained()).isTrue();
        // a new request waits at the entrance until the section closes
        CompletableFuture<Void> late = CompletableFuture.runAsync(() -> {
            try {
                n.write(4096, arena.allocate(1));
            } catch (BlockIOException e) {
                throw new RuntimeException(e);
            }
        }, pool);
        await().atMost(TestTimeouts.SHORT).until(() -> n.waitingAtEntrance() == 1);
        assertThat(late).isNotDone();
        assertThat(n.inflight()).isZero();
        section.close();
        late.get(ms(TestTimeouts.SHORT), TimeUnit.MILLISECONDS);
        reg.close();
    }

    @Test
    void replaceNodeSwitchesEveryUserAtOnce() throws Exception {
        BlockGraph g = new BlockGraph(mainLoop);
        NullNode src = nullNode("src", 1 << 20);
        NullNode dst = nullNode("dst", 1 << 20);
        DirtyBitmap onDst = dst.addDirtyBitmap(null, 4096);
        List<BlockBackend> users = mainLoop.call(() -> {
            g.addInternalNode(src);
            g.addInternalNode(dst);
            return List.of(g.attachBackend("disk0", src), g.attachBackend(null, src));
        });
        RawNode parent = RawNode.open("raw", NodeOptions.DEFAULTS, src, 0, OptionalLong.empty());
        mainLoop.call(() -> {
            g.replaceNode(src, dst);
            return null;
        });
        for (BlockBackend u : users) {
            assertThat(u.node()).isSameAs(dst);
            u.write(0, arena.allocate(1), Set.of());
        }
        parent.write(8192, arena.allocate(1));
        assertThat(parent.child("file").orElseThrow().node()).isSameAs(dst);
        assertThat(src.parents()).isEmpty();
        assertThat(onDst.dirtyChunks()).isEqualTo(2);
    }

    @Test
    void requestWaitingAtDrainedOldNodeRunsOnTheReplacement() throws Exception {
        BlockGraph g = new BlockGraph(mainLoop);
        NullNode src = nullNode("src", 1 << 20);
        NullNode dst = nullNode("dst", 1 << 20);
        DirtyBitmap onSrc = src.addDirtyBitmap(null, 4096);
        DirtyBitmap onDst = dst.addDirtyBitmap(null, 4096);
        BlockBackend user = mainLoop.call(() -> g.attachBackend("disk0", src));
        DrainedSection d = src.drain();
        CompletableFuture<Void> waiting = CompletableFuture.runAsync(() -> {
            try {
                user.write(0, arena.allocate(1), Set.of());
            } catch (BlockIOException e) {
                throw new RuntimeException(e);
            }
        }, pool);
        await().atMost(TestTimeouts.SHORT).until(() -> src.waitingAtEntrance() == 1);
        mainLoop.call(() -> {
            // drains nest: the switch happens while our section holds the writer back
            for (BlockChild e : src.parents()) {
                e.switchTo(dst);
            }
            return null;
        });
        d.close();
        waiting.get(ms(TestTimeouts.SHORT), TimeUnit.MILLISECONDS);
        assertThat(onSrc.dirtyChunks()).isZero();
        assertThat(onDst.dirtyChunks()).isEqualTo(1);
    }

    @Test
    void insertingAFilterAboveANodeKeepsTheFilterEdge() throws Exception {
        BlockGraph g = new BlockGraph(mainLoop);
        NullNode src = nullNode("src", 1 << 20);
        BlockBackend user = mainLoop.call(() -> {
            g.addInternalNode(src);
            return g.attachBackend("disk0", src);
        });
        RawNode filter = RawNode.open("filter", NodeOptions.DEFAULTS, src, 0, OptionalLong.empty());
        mainLoop.call(() -> {
            g.replaceNode(src, filter);
            return null;
        });
        assertThat(user.node()).isSameAs(filter);
        assertThat(filter.child("file").orElseThrow().node()).isSameAs(src);
    }

    /**
     * Removing a filter while a write is in flight in it, not yet in its child (the mirror's
     * abort with a guest writing): the filter must be drained before its child, or the write
     * waits at the drained child while the filter's drain waits for the write, for ever.
     */
    @Test
    void removingAFilterWaitsForItsWritesToReachTheChild() throws Exception {
        BlockGraph g = new BlockGraph(mainLoop);
        NullNode src = nullNode("src", 1 << 20);
        BlockBackend user = mainLoop.call(() -> {
            g.addInternalNode(src);
            return g.attachBackend("disk0", src);
        });
        RawNode filter = RawNode.open("filter", NodeOptions.DEFAULTS, src, 0, OptionalLong.empty());
        mainLoop.call(() -> {
            g.replaceNode(src, filter);
            return null;
        });
        CountDownLatch inFilter = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AutoCloseable reg = filter.addBeforeWriteNotifier(r -> {
            inFilter.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                throw new BlockIOException(Errno.EIO, "interrupted");
            }
        });
        Future<?> write = pool.submit(() -> {
            user.write(0, arena.allocate(1), Set.of());
            return null;
        });
        assertThat(inFilter.await(ms(TestTimeouts.SHORT), TimeUnit.MILLISECONDS)).isTrue();
        CompletableFuture<Void> removed = CompletableFuture.runAsync(() -> g.replaceNode(filter, src), mainLoop);
        // Either order starts with one drain that waits; then the write goes on into the child.
        await().atMost(TestTimeouts.SHORT).until(() -> filter.isDrained() || src.isDrained());
        release.countDown();
        removed.get(ms(TestTimeouts.SHORT), TimeUnit.MILLISECONDS);
        write.get(ms(TestTimeouts.SHORT), TimeUnit.MILLISECONDS);
        assertThat(user.node()).isSameAs(src);
        reg.close();
    }

    @Test
    void graphRefusesCallsOffTheMainLoop() {
        BlockGraph g = new BlockGraph(mainLoop);
        assertThatThrownBy(() -> g.find("x")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("main loop");
    }
}
