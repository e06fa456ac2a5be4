package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.block.BlockBackend;
import dev.converge.block.BlockNode;
import dev.converge.block.driver.FileNode;
import dev.converge.testing.TestTimeouts;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Copies into a target that writes into the host page cache take turns (issue 13): there the
 * host file's inode lock serializes writers anyway, and a write-blocking guest write queued
 * behind sixteen copy writes waited 50-200 ms. The target below holds every copy write, so the
 * test sees how many copies write at once: one, however many operations are in flight, while a
 * guest write to the target still completes (it takes no lane). A target that does not write
 * into the page cache (an NBD node, O_DIRECT) lets copies write in parallel. Not a timing test:
 * with a crowd of copies at the target the first assertion fails whatever the machine's speed.
 */
class MirrorCopyWriteLanesTest {
    static final int SIZE = 16 << 20;

    @TempDir
    Path dir;
    MirrorFixture f;
    HeldReadsNode src;
    BlockBackend disk;
    byte[] initial;

    @BeforeEach
    void setUp() throws Exception {
        f = new MirrorFixture(dir);
        initial = new byte[SIZE];
        new Random(21).nextBytes(initial);
        src = f.add(new HeldReadsNode("src", initial)); // never held here: the source reads at once
        disk = f.attach("disk0", "src");
    }

    @AfterEach
    void tearDown() throws Exception {
        f.close();
    }

    private HeldCopyWritesNode target(boolean pageCache) throws Exception {
        return f.add(new HeldCopyWritesNode("tgt", SIZE, pageCache));
    }

    @Test
    void copiesIntoThePageCacheWriteOneAtATimeAndTheGuestPassesThem() throws Exception {
        HeldCopyWritesNode tgt = target(true);
        try {
            f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full',"
                    + "'copy-mode':'write-blocking'}");
            MirrorJob job = f.mirror.driver("m").orElseThrow();
            // Every operation reads at once and then wants to write: one writes (held), the rest queue for the lane.
            await().atMost(TestTimeouts.MEDIUM).until(() -> tgt.waiting() == 1 && job.copiesWaitingToWrite() >= 2);
            assertThat(tgt.waiting()).as("copy writes at the target at once").isEqualTo(1);

            byte[] mine = new byte[64 << 10];
            new Random(22).nextBytes(mine);
            long at = SIZE / 2 + 4096;
            CompletableFuture<Void> write = CompletableFuture.runAsync(() -> {
                try {
                    disk.write(at, MemorySegment.ofArray(mine), Set.of()); // write-blocking: the target too
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            write.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(tgt.waiting()).as("the copy is still held while the guest's write completed").isEqualTo(1);

            tgt.release();
            f.events.await("BLOCK_JOB_READY", "m");
            f.qmp("block-job-cancel", "{'device':'m'}"); // soft: a consistent copy, no pivot
            f.events.await("BLOCK_JOB_COMPLETED", "m");
            byte[] expected = initial.clone();
            System.arraycopy(mine, 0, expected, (int) at, mine.length);
            assertThat(src.contents()).as("source").isEqualTo(expected);
            assertThat(tgt.contents()).as("target").isEqualTo(expected);
        } finally {
            tgt.release();
        }
    }

    @Test
    void copiesIntoATargetOutsideThePageCacheWriteInParallel() throws Exception {
        HeldCopyWritesNode tgt = target(false);
        try {
            f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full'}");
            await().atMost(TestTimeouts.MEDIUM).until(() -> tgt.waiting() >= 2);
            tgt.release();
            f.events.await("BLOCK_JOB_READY", "m");
            f.qmp("block-job-cancel", "{'device':'m'}");
            f.events.await("BLOCK_JOB_COMPLETED", "m");
            assertThat(tgt.contents()).as("target").isEqualTo(initial);
        } finally {
            tgt.release();
        }
    }

    @Test
    void aBufferedFileWritesIntoThePageCacheAndARawNodeAboveItSaysSo() throws Exception {
        f.image("img", 1 << 20);
        BlockNode raw = f.node("img");
        BlockNode file = raw.child("file").orElseThrow().node();
        assertThat(file).isInstanceOf(FileNode.class);
        assertThat(file.writesIntoHostPageCache()).as("file without cache.direct").isTrue();
        assertThat(raw.writesIntoHostPageCache()).as("raw over it").isTrue();
        assertThat(src.writesIntoHostPageCache()).as("a node without a file child").isFalse();
    }
}
