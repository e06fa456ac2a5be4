package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.block.BlockBackend;
import dev.converge.block.HostFileRange;
import dev.converge.block.ReqFlag;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A user's zero-copy read (the NBD server's sendfile path) while a mirror's filter sits above its
 * node: the range passes through the filter to the source's file, its bytes are the source's, a
 * write through the filter (which the mirror copies) is in the next range, and the target still
 * ends equal to the source.
 */
class MirrorHostFileRangeTest {
    private static final int SIZE = 8 << 20;

    @TempDir
    Path dir;

    private static byte[] bytesOf(HostFileRange r) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(r.length()));
        r.read(0, b);
        return b.array();
    }

    @Test
    void rangesPassThroughTheMirrorFilterAndSeeTheGuestsWrites() throws Exception {
        try (MirrorFixture f = new MirrorFixture(dir)) {
            f.image("src", SIZE);
            f.image("tgt", SIZE);
            byte[] data = new byte[SIZE / 2];
            new Random(3).nextBytes(data);
            MirrorFixture.write(f.node("src"), 0, data);
            BlockBackend disk = f.attach("disk0", "src");
            f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full'}");
            f.events.await("BLOCK_JOB_READY", "m");
            assertThat(disk.node().nodeName()).as("the filter is in place").isNotEqualTo("src");

            byte[] source = MirrorFixture.readAll(f.node("src"));
            try (HostFileRange r = disk.hostFileRange(100_000, 3 << 20).orElseThrow()) {
                assertThat(bytesOf(r)).isEqualTo(java.util.Arrays.copyOfRange(source, 100_000, 100_000 + (3 << 20)));
            }
            byte[] guest = new byte[300_000];
            new Random(4).nextBytes(guest);
            disk.write(SIZE / 2 - 1000, MemorySegment.ofArray(guest), Set.of(ReqFlag.FUA));
            try (HostFileRange r = disk.hostFileRange(SIZE / 2 - 1000, guest.length).orElseThrow()) {
                assertThat(bytesOf(r)).as("the guest's write, which crosses into the unallocated half").isEqualTo(guest);
            }

            f.qmp("block-job-cancel", "{'device':'m'}");
            f.events.await("BLOCK_JOB_COMPLETED", "m");
            assertThat(MirrorFixture.readAll(f.node("tgt"))).isEqualTo(MirrorFixture.readAll(f.node("src")));
        }
    }
}
