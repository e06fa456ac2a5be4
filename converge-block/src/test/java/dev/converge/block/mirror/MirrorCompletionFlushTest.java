package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.block.BlockBackend;
import dev.converge.testing.TestTimeouts;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * At completion a background mirror flushes the target while the guest still writes, and every
 * write the guest makes during that flush dirties the source (issue 13). When that is more than
 * {@link MirrorJob#FINAL_FLUSH_BYTES}, the job copies it and flushes again before it drains the
 * filter: the drained section, in which every guest write waits, then has little to copy and
 * flush. Before, it drained at once and copied all of it with the guest held (a flush of a
 * freshly written target takes seconds, so hundreds of MiB). Seen here as the number of flushes:
 * the held one, one more for what came in during it, and the drained section's.
 */
class MirrorCompletionFlushTest {
    static final int SIZE = 32 << 20;

    @TempDir
    Path dir;
    MirrorFixture f;
    HeldReadsNode src;
    HeldFlushNode tgt;
    BlockBackend disk;
    byte[] expected;

    @BeforeEach
    void setUp() throws Exception {
        f = new MirrorFixture(dir);
        expected = new byte[SIZE];
        new Random(31).nextBytes(expected);
        src = f.add(new HeldReadsNode("src", expected.clone()));
        tgt = f.add(new HeldFlushNode("tgt", SIZE));
        disk = f.attach("disk0", "src");
    }

    @AfterEach
    void tearDown() throws Exception {
        tgt.release();
        f.close();
    }

    @Test
    void whatTheGuestWroteDuringTheFlushIsCopiedAndFlushedBeforeTheDrain() throws Exception {
        f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full'}");
        f.events.await("BLOCK_JOB_READY", "m");
        f.qmp("block-job-cancel", "{'device':'m'}"); // soft: completes without pivot, as the bench's
        await().atMost(TestTimeouts.MEDIUM).until(() -> tgt.waiting() == 1);

        byte[] mine = new byte[2 * (int) MirrorJob.FINAL_FLUSH_BYTES];
        new Random(32).nextBytes(mine);
        int at = SIZE / 4;
        disk.write(at, MemorySegment.ofArray(mine), Set.of()); // background: the source only, not drained yet
        System.arraycopy(mine, 0, expected, at, mine.length);
        tgt.release();
        f.events.await("BLOCK_JOB_COMPLETED", "m");

        assertThat(tgt.flushes()).as("the held flush, one for what came in during it, the drained section's")
                .isGreaterThanOrEqualTo(3);
        assertThat(src.contents()).as("source").isEqualTo(expected);
        assertThat(tgt.contents()).as("target").isEqualTo(expected);
    }
}
