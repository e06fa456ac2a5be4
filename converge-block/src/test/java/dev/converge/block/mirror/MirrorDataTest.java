package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.block.BlockBackend;
import dev.converge.block.ReqFlag;
import dev.converge.testing.TestTimeouts;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nothing is lost: writers write, overwrite, write unaligned, zero and discard at random
 * through the source's user while the mirror runs, across the switchover. Each writer owns a
 * region and keeps a model of it, so the guest's view is exact: after a pivot the target holds
 * every write; the frozen source and a soft-cancelled target each hold one prefix of every
 * writer's history (a consistent copy at the drain point).
 */
class MirrorDataTest {
    static final int REGION = 1 << 20;
    static final int WRITERS = 3;
    static final int SIZE = 4 << 20; // the last MiB is never written: a hole on both sides

    @TempDir
    Path dir;
    MirrorFixture f;
    BlockBackend disk;
    byte[] initial;
    final List<Writer> writers = new ArrayList<>();
    final AtomicReference<Throwable> writerFailure = new AtomicReference<>();

    @BeforeEach
    void setUp() throws Exception {
        f = new MirrorFixture(dir);
        f.image("src", SIZE);
        f.image("tgt", SIZE);
        initial = new byte[WRITERS * REGION];
        new Random(7).nextBytes(initial);
        MirrorFixture.write(f.node("src"), 0, initial);
        disk = f.attach("disk0", "src");
        for (int i = 0; i < WRITERS; i++) {
            writers.add(new Writer(i));
        }
    }

    @AfterEach
    void tearDown() throws Exception {
        for (Writer w : writers) {
            w.stop();
        }
        f.close();
        assertThat(writerFailure.get()).as("writer failure").isNull();
    }

    /** One writer: sequential random operations inside its own region, mirrored in a model. */
    final class Writer implements Runnable {
        final int index;
        final long base;
        final byte[] model;
        final Random rnd;
        final AtomicLong ops = new AtomicLong();
        /** CRC of the region after each operation (and before the first): the writer's history. */
        final Set<Long> history = ConcurrentHashMap.newKeySet();
        volatile long budget;
        final AtomicBoolean stop = new AtomicBoolean();
        Thread thread;

        Writer(int index) {
            this.index = index;
            this.base = (long) index * REGION;
            this.model = Arrays.copyOfRange(initial, index * REGION, (index + 1) * REGION);
            this.rnd = new Random(100 + index);
            history.add(crc(model));
        }

        /** Runs {@code n} more operations (Long.MAX_VALUE: until stopped). */
        void start(long n) {
            budget = ops.get() + n;
            stop.set(false);
            // Platform threads, as a VMM's vCPU threads: writers that never block would starve
            // virtual threads (no preemption), the job's among them.
            thread = Thread.ofPlatform().name("writer-" + index).start(this);
        }

        void stop() throws InterruptedException {
            stop.set(true);
            if (thread != null) {
                assertThat(thread.join(TestTimeouts.MEDIUM)).as("writer %d ended", index).isTrue();
            }
        }

        @Override
        public void run() {
            int lastOff = 0;
            int lastLen = 1;
            try {
                while (!stop.get() && ops.get() < budget) {
                    int kind = rnd.nextInt(100);
                    int len = 1 + rnd.nextInt(rnd.nextBoolean() ? 512 : 65536);
                    int off = rnd.nextInt(REGION - len + 1);
                    if (kind < 15) { // overwrite the last range
                        off = lastOff;
                        len = lastLen;
                    }
                    if (kind < 70) {
                        byte[] b = new byte[len];
                        rnd.nextBytes(b);
                        disk.write(base + off, MemorySegment.ofArray(b), Set.of());
                        System.arraycopy(b, 0, model, off, len);
                    } else if (kind < 85) {
                        disk.writeZeroes(base + off, len, rnd.nextBoolean() ? Set.of(ReqFlag.MAY_UNMAP) : Set.of());
                        Arrays.fill(model, off, off + len, (byte) 0);
                    } else {
                        disk.discard(base + off, len); // discard=ignore on the source: data stays
                    }
                    lastOff = off;
                    lastLen = len;
                    history.add(crc(model));
                    ops.incrementAndGet();
                }
            } catch (Throwable t) {
                writerFailure.compareAndSet(null, t);
            }
        }

        void assertHolds(byte[] image, String what) {
            assertThat(Arrays.copyOfRange(image, (int) base, (int) base + REGION))
                    .as("%s: writer %d's region", what, index).isEqualTo(model);
        }

        void assertPrefix(byte[] image, String what) {
            assertThat(history).as("%s: writer %d's region is a state it had", what, index)
                    .contains(crc(Arrays.copyOfRange(image, (int) base, (int) base + REGION)));
        }
    }

    static long crc(byte[] b) {
        CRC32 c = new CRC32();
        c.update(b);
        return c.getValue();
    }

    private void startAll(long n) {
        writers.forEach(w -> w.start(n));
    }

    private void stopAll() throws InterruptedException {
        for (Writer w : writers) {
            w.stop();
        }
        assertThat(writerFailure.get()).as("writer failure").isNull();
    }

    private void awaitOpsBeyond(long[] marks, long more) {
        await().atMost(TestTimeouts.MEDIUM).until(() -> {
            for (int i = 0; i < WRITERS; i++) {
                if (writers.get(i).ops.get() < marks[i] + more && writers.get(i).thread.isAlive()) {
                    return false;
                }
            }
            return true;
        });
    }

    private long[] marks() {
        return writers.stream().mapToLong(w -> w.ops.get()).toArray();
    }

    /** Mirror with writers racing the bulk copy, the ready phase and the switchover. */
    private void mirrorUnderWrites(MirrorCopyMode mode) throws Exception {
        if (mode == MirrorCopyMode.BACKGROUND) {
            startAll(300); // a burst during the bulk copy: background mode need not converge under any rate
        } else {
            startAll(Long.MAX_VALUE);
        }
        f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full','copy-mode':'"
                + mode.wireName() + "','granularity':4096}");
        f.events.await("BLOCK_JOB_READY", "m");
        if (mode == MirrorCopyMode.BACKGROUND) {
            stopAll();
            startAll(Long.MAX_VALUE);
        }
        awaitOpsBeyond(marks(), 50);
    }

    @ParameterizedTest
    @EnumSource(value = MirrorCopyMode.class)
    void completeLosesNoWrite(MirrorCopyMode mode) throws Exception {
        mirrorUnderWrites(mode);
        f.qmp("job-complete", "{'id':'m'}");
        f.events.awaitStatus("m", "null");
        assertThat(f.events.await("BLOCK_JOB_COMPLETED", "m").data().has("error")).isFalse();
        awaitOpsBeyond(marks(), 50); // these land on the target only
        stopAll();
        assertThat(f.mainLoop.call(disk::node).nodeName()).isEqualTo("tgt");
        byte[] tgt = MirrorFixture.readAll(f.node("tgt"));
        byte[] src = MirrorFixture.readAll(f.node("src"));
        for (Writer w : writers) {
            w.assertHolds(tgt, "target after pivot");
            w.assertPrefix(src, "source frozen at the switchover");
        }
        assertThat(Arrays.copyOfRange(tgt, WRITERS * REGION, SIZE)).as("the hole").containsOnly(0);
    }

    @ParameterizedTest
    @EnumSource(value = MirrorCopyMode.class)
    void softCancelLeavesAConsistentCopy(MirrorCopyMode mode) throws Exception {
        mirrorUnderWrites(mode);
        f.qmp("block-job-cancel", "{'device':'m'}");
        f.events.awaitStatus("m", "null");
        assertThat(f.events.trace("m")).contains("BLOCK_JOB_COMPLETED").doesNotContain("BLOCK_JOB_CANCELLED");
        awaitOpsBeyond(marks(), 50); // these land on the source only
        stopAll();
        assertThat(f.mainLoop.call(disk::node).nodeName()).isEqualTo("src");
        byte[] tgt = MirrorFixture.readAll(f.node("tgt"));
        byte[] src = MirrorFixture.readAll(f.node("src"));
        for (Writer w : writers) {
            w.assertHolds(src, "source without pivot");
            w.assertPrefix(tgt, "target copy at the drain point");
        }
    }

    /**
     * A writer that holds the source node itself bypasses the filter: only the dirty bitmap sees
     * its writes. Each copy resets its granules before it reads, so a write racing the copy is
     * copied again. The writer stops before the switchover (the drain holds only the filter).
     */
    @Test
    void writesThatBypassTheFilterAreCopiedToo() throws Exception {
        var src = f.node("src");
        byte[] model = Arrays.copyOf(initial, REGION);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong ops = new AtomicLong();
        Thread direct = Thread.ofPlatform().name("direct-writer").start(() -> {
            Random r = new Random(42);
            try {
                while (!stop.get()) {
                    int len = 1 + r.nextInt(8192);
                    int off = r.nextInt(REGION - len + 1);
                    byte[] b = new byte[len];
                    r.nextBytes(b);
                    src.write(off, MemorySegment.ofArray(b));
                    System.arraycopy(b, 0, model, off, len);
                    ops.incrementAndGet();
                }
            } catch (Throwable t) {
                writerFailure.compareAndSet(null, t);
            }
        });
        try {
            f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full','granularity':4096,"
                    + "'buf-size':65536}");
            await().atMost(TestTimeouts.MEDIUM).until(() -> ops.get() > 2000
                    || f.queryJob("m").path("status").asText().equals("ready") && ops.get() > 200);
        } finally {
            stop.set(true);
            assertThat(direct.join(TestTimeouts.MEDIUM)).isTrue();
        }
        assertThat(writerFailure.get()).isNull();
        f.events.await("BLOCK_JOB_READY", "m");
        f.qmp("job-complete", "{'id':'m'}");
        f.events.awaitStatus("m", "null");
        byte[] tgt = MirrorFixture.readAll(f.node("tgt"));
        assertThat(Arrays.copyOf(tgt, REGION)).isEqualTo(model);
        assertThat(tgt).isEqualTo(MirrorFixture.readAll(src));
    }

    /**
     * The race made certain: a write lands on the source after a copy read a granule and before
     * it wrote the target. The copy had reset the granule before its read, so the write dirtied
     * it again and it is copied again; resetting after the copy would lose the write.
     */
    @Test
    void writeBetweenCopyReadAndCopyWriteIsCopiedAgain() throws Exception {
        var src = f.node("src");
        var tgt = f.node("tgt");
        byte[] late = new byte[100];
        new Random(11).nextBytes(late);
        AtomicBoolean done = new AtomicBoolean();
        AutoCloseable hook = f.mainLoop.call(() -> tgt.addBeforeWriteNotifier(req -> {
            if (req.offset() == 0 && done.compareAndSet(false, true)) {
                try {
                    src.write(10, MemorySegment.ofArray(late)); // bypasses the filter: only the bitmap sees it
                } catch (Exception e) {
                    writerFailure.compareAndSet(null, e);
                }
            }
        }));
        try {
            f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full','granularity':4096}");
            f.events.await("BLOCK_JOB_READY", "m");
            f.qmp("job-complete", "{'id':'m'}");
            f.events.awaitStatus("m", "null");
        } finally {
            f.mainLoop.call(() -> {
                hook.close();
                return null;
            });
        }
        assertThat(done).isTrue();
        assertThat(Arrays.copyOfRange(MirrorFixture.readAll(tgt), 10, 110)).isEqualTo(late);
    }

    @Test
    void switchToWriteBlockingWhileWritesRun() throws Exception {
        startAll(Long.MAX_VALUE);
        f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full','granularity':4096,"
                + "'speed':1048576}");
        awaitOpsBeyond(marks(), 20);
        f.qmp("job-change", "{'id':'m','copy-mode':'write-blocking'}");
        f.qmp("block-job-set-speed", "{'device':'m','speed':0}");
        f.events.await("BLOCK_JOB_READY", "m"); // converges although the writers never stop
        awaitOpsBeyond(marks(), 20);
        f.qmp("job-complete", "{'id':'m'}");
        f.events.awaitStatus("m", "null");
        stopAll();
        byte[] tgt = MirrorFixture.readAll(f.node("tgt"));
        for (Writer w : writers) {
            w.assertHolds(tgt, "target after pivot");
        }
    }
}
