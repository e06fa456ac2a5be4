package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.block.BlockBackend;
import dev.converge.testing.TestTimeouts;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Guest writes never wait for a copy operation (issue 13). The source holds every read, so the
 * mirror's first copy operations stay in flight for as long as the test wants; guest writes to
 * the very granules they copy, and to others, must complete while those copies are still held,
 * in both copy modes. Then the copies go on, and the target must equal the source: a guest write
 * that overtook a copy left its granules dirty, so they were copied again.
 * <p>
 * Not a timing test: with the old rule (a guest write waits until the copy of its granules
 * ended) the writes below could never complete before the release, and the bounded wait fails.
 */
class MirrorGuestPriorityTest {
    static final int SIZE = 8 << 20;

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
        new Random(13).nextBytes(initial);
        src = f.add(new HeldReadsNode("src", initial));
        disk = f.attach("disk0", "src");
        f.image("tgt", SIZE);
    }

    @AfterEach
    void tearDown() throws Exception {
        src.release();
        f.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"background", "write-blocking"})
    void aGuestWriteCompletesWhileTheCopyOfItsGranulesIsHeld(String copyMode) throws Exception {
        src.hold();
        f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full','copy-mode':'"
                + copyMode + "'}");
        // The first operations copy from offset 0: wait until they are held in their reads.
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.waiting() > 0);

        byte[] mine = new byte[64 << 10];
        new Random(14).nextBytes(mine);
        byte[] other = new byte[4096];
        Arrays.fill(other, (byte) 0x5a);
        CompletableFuture<Void> writes = CompletableFuture.runAsync(() -> {
            try {
                disk.write(0, MemorySegment.ofArray(mine), java.util.Set.of()); // inside a held copy
                disk.write(SIZE - 4096 - 512, MemorySegment.ofArray(other), java.util.Set.of()); // elsewhere, unaligned
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        writes.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(src.waiting()).as("the copies are still held while the guest's writes completed").isPositive();

        src.release();
        f.events.await("BLOCK_JOB_READY", "m");
        f.qmp("block-job-cancel", "{'device':'m'}"); // soft: a consistent copy, no pivot
        f.events.await("BLOCK_JOB_COMPLETED", "m");

        byte[] expected = initial.clone();
        System.arraycopy(mine, 0, expected, 0, mine.length);
        System.arraycopy(other, 0, expected, SIZE - 4096 - 512, other.length);
        assertThat(src.contents()).as("source").isEqualTo(expected);
        assertThat(MirrorFixture.readAll(f.node("tgt"))).as("target").isEqualTo(expected);
    }

    /**
     * No copy operation outlives clean(): a force cancel while copies are held in their reads
     * ends the job only after they ended, and clean then gets every copy buffer back and frees
     * them (the pool would free them late, but never under a holder, if one were still lent).
     */
    @org.junit.jupiter.api.Test
    void aCancelWaitsForHeldCopiesAndEveryBufferIsBackAtClean() throws Exception {
        src.hold();
        f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full'}");
        MirrorJob job = f.mirror.driver("m").orElseThrow();
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.waiting() > 0);
        assertThat(job.buffers().lent()).as("the held copies hold buffers").isPositive();
        f.qmp("block-job-cancel", "{'device':'m','force':true}");
        assertThat(job.buffers().freed()).as("nothing freed while copies are held").isFalse();

        src.release();
        f.events.await("BLOCK_JOB_CANCELLED", "m");
        f.events.awaitStatus("m", "null");
        assertThat(job.buffers().lent()).isZero();
        assertThat(job.buffers().freed()).as("clean freed the buffers").isTrue();
        assertThat(src.contents()).as("the source is untouched").isEqualTo(initial);
    }
}
