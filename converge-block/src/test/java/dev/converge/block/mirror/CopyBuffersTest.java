package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.block.BlockBackend;
import dev.converge.block.ReqFlag;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The mirror's copy buffers: reused, never more than the capacity, never waited for, never cut
 * off under a holder; and byte for byte, a reused buffer's old bytes never reach the target.
 */
class CopyBuffersTest {
    static final long BUF = 64 << 10;

    @TempDir
    Path dir;

    @Test
    void aBufferGivenBackIsReusedWithoutAllocatingOrZeroing() {
        try (CopyBuffers p = new CopyBuffers("t", 2, BUF)) {
            MemorySegment a = p.take();
            assertThat(a.byteSize()).isEqualTo(BUF);
            assertThat(a.address() % CopyBuffers.ALIGN).isZero();
            a.fill((byte) 0xAA);
            p.give(a);
            MemorySegment b = p.take();
            assertThat(b.address()).isEqualTo(a.address());
            // Not zeroed: the taker must overwrite what it passes on (the mirror's copy does).
            assertThat(b.get(java.lang.foreign.ValueLayout.JAVA_BYTE, BUF - 1)).isEqualTo((byte) 0xAA);
            assertThat(p.allocated()).isEqualTo(1);
            p.give(b);
        }
    }

    @Test
    void neverMoreThanTheCapacityAndNeverWaits() {
        try (CopyBuffers p = new CopyBuffers("t", 3, BUF)) {
            MemorySegment[] lent = {p.take(), p.take(), p.take()};
            assertThat(p.allocated()).isEqualTo(3);
            assertThatThrownBy(p::take).isInstanceOf(IllegalStateException.class).hasMessageContaining("all 3 are lent");
            for (MemorySegment s : lent) {
                p.give(s);
            }
            assertThat(p.lent()).isZero();
            assertThatThrownBy(() -> p.give(lent[0])).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> p.give(MemorySegment.ofArray(new byte[1])))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void closeFreesTheMemoryButNeverUnderAHolder() {
        CopyBuffers idle = new CopyBuffers("idle", 2, BUF);
        MemorySegment s = idle.take();
        idle.give(s);
        idle.close();
        assertThat(s.scope().isAlive()).as("freed once none is lent").isFalse();
        assertThatThrownBy(idle::take).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        idle.close(); // idempotent

        CopyBuffers lentAtClose = new CopyBuffers("lent-at-close", 2, BUF);
        MemorySegment held = lentAtClose.take();
        lentAtClose.close(); // the memory stays while a holder uses it...
        assertThat(held.scope().isAlive()).isTrue();
        assertThatThrownBy(lentAtClose::take).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        held.fill((byte) 1);
        assertThat(held.get(java.lang.foreign.ValueLayout.JAVA_BYTE, BUF - 1)).isEqualTo((byte) 1);
        lentAtClose.give(held);
        assertThat(lentAtClose.lent()).isZero();
        assertThat(held.scope().isAlive()).as("...and is freed when the last buffer comes back").isFalse();
        assertThat(lentAtClose.freed()).isTrue();
    }

    @Test
    void aJobThatNeverCopiedClosesCleanly() {
        CopyBuffers p = new CopyBuffers("t", 16, BUF);
        p.close();
        assertThat(p.allocated()).isZero();
    }

    /**
     * Byte level, through the mirror: data and holes alternate inside every operation, at every
     * offset of the buffers, over two passes (the second after the guest rewrote data, wrote
     * zeroes and punched holes), into a target filled with a poison byte. Every buffer is reused
     * many times; a stale byte anywhere (in a hole, past a short extent) would differ.
     */
    @Test
    void reusedBuffersNeverLeakOldBytesIntoTheTarget() throws Exception {
        int size = 8 << 20;
        int piece = 16 << 10; // smaller than a granule, so one operation mixes data and holes
        try (MirrorFixture f = new MirrorFixture(dir)) {
            f.image("src", size);
            f.image("tgt", size);
            byte[] poison = new byte[size];
            Arrays.fill(poison, (byte) 0xEE);
            MirrorFixture.write(f.node("tgt"), 0, poison);
            Random rnd = new Random(42);
            for (int off = 0; off < size; off += piece) {
                if (rnd.nextInt(3) == 0) {
                    byte[] d = new byte[piece];
                    rnd.nextBytes(d);
                    MirrorFixture.write(f.node("src"), off, d);
                }
            }
            BlockBackend disk = f.attach("disk0", "src");
            f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full'}");
            f.events.await("BLOCK_JOB_READY", "m");
            assertSameBytes(f);

            // Second pass: the guest rewrites, zeroes and unmaps pieces while the job is ready.
            for (int off = 0; off < size; off += piece) {
                switch (rnd.nextInt(4)) {
                    case 0 -> {
                        byte[] d = new byte[piece];
                        rnd.nextBytes(d);
                        disk.write(off, MemorySegment.ofArray(d), Set.of());
                    }
                    case 1 -> disk.writeZeroes(off, piece, EnumSet.of(ReqFlag.MAY_UNMAP));
                    case 2 -> disk.writeZeroes(off, piece, Set.of());
                    default -> {
                    }
                }
            }
            f.qmp("job-complete", "{'id':'m'}");
            f.events.awaitStatus("m", "null");
            assertSameBytes(f);
        }
    }

    /** The target equals the source; on a difference, names the first differing offset (not 8 MiB of bytes). */
    private static void assertSameBytes(MirrorFixture f) throws Exception {
        byte[] src = MirrorFixture.readAll(f.node("src"));
        byte[] tgt = MirrorFixture.readAll(f.node("tgt"));
        assertThat(Arrays.mismatch(tgt, src)).as("first offset where the target differs from the source").isEqualTo(-1);
    }
}
