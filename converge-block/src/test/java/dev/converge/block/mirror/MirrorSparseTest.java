package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.block.BlockNode;
import dev.converge.block.Extent;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sparse sources (issue 13): what reads as zeroes on the source and on the target is neither
 * read nor written, and the target's allocation ends up equal to the source's.
 */
class MirrorSparseTest {
    static final int SIZE = 32 << 20;
    static final int EXTENT = 1 << 20;

    @TempDir
    Path dir;

    /** Every 10th MiB holds random data, the rest is zero. */
    static byte[] tenPercent() {
        byte[] b = new byte[SIZE];
        Random r = new Random(21);
        for (int off = 0; off < SIZE; off += 10 * EXTENT) {
            byte[] d = new byte[EXTENT];
            r.nextBytes(d);
            System.arraycopy(d, 0, b, off, EXTENT);
        }
        return b;
    }

    @Test
    void holesAreNotReadAndStayHolesOnTheTarget() throws Exception {
        byte[] initial = tenPercent();
        try (MirrorFixture f = new MirrorFixture(dir)) {
            HeldReadsNode src = f.add(new HeldReadsNode("src", initial));
            f.attach("disk0", "src");
            f.image("tgt", SIZE);
            f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full'}");
            f.events.await("BLOCK_JOB_READY", "m");
            f.qmp("block-job-cancel", "{'device':'m'}");
            f.events.await("BLOCK_JOB_COMPLETED", "m");

            long data = (SIZE / (10 * EXTENT) + 1) * (long) EXTENT;
            assertThat(src.bytesRead()).as("only the data was read").isEqualTo(data);
            BlockNode tgt = f.node("tgt");
            assertThat(MirrorFixture.readAll(tgt)).isEqualTo(initial);
            assertThat(dataExtents(tgt)).as("target allocation (SEEK_DATA) equals the source's data")
                    .isEqualTo(dataExtents(src));
        }
    }

    @Test
    void aFileSourceIntoAFileTargetKeepsItsHoles() throws Exception {
        byte[] initial = tenPercent();
        try (MirrorFixture f = new MirrorFixture(dir)) {
            String srcFile = f.image("src", SIZE);
            String tgtFile = f.image("tgt", SIZE);
            for (int off = 0; off < SIZE; off += 10 * EXTENT) {
                MirrorFixture.write(f.node("src"), off, java.util.Arrays.copyOfRange(initial, off, off + EXTENT));
            }
            f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full'}");
            f.events.await("BLOCK_JOB_READY", "m");
            f.qmp("block-job-cancel", "{'device':'m'}");
            f.events.await("BLOCK_JOB_COMPLETED", "m");

            assertThat(MirrorFixture.readAll(f.node("tgt"))).isEqualTo(MirrorFixture.readAll(f.node("src")));
            List<Extent> srcData = dataExtents(f.node("src"));
            assertThat(srcData).as("the source is sparse (SEEK_DATA works here)").hasSizeLessThan(SIZE / EXTENT);
            assertThat(dataExtents(f.node("tgt"))).as("target allocation equals source allocation").isEqualTo(srcData);
            // du: blocks the file system holds (SEEK_DATA alone would not see zeroed-but-allocated ranges)
            long srcBlocks = du(srcFile);
            assertThat(srcBlocks).isLessThan(SIZE / 2);
            assertThat(du(tgtFile)).as("target's du equals the source's")
                    .isBetween(srcBlocks - 64 * 1024, srcBlocks + 64 * 1024);
        }
    }

    /** Bytes the file system allocated to {@code file}, by {@code du -B1}. */
    static long du(String file) throws Exception {
        Process p = new ProcessBuilder("du", "-B1", file).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as("du: " + out).isZero();
        return Long.parseLong(out.strip().split("\\s+")[0]);
    }

    /** The data extents of a node, as [offset, length] with flags dropped. */
    static List<Extent> dataExtents(BlockNode n) throws Exception {
        return n.blockStatus(0, n.size()).stream().filter(Extent::isData)
                .map(e -> new Extent(e.offset(), e.length(), Extent.DATA)).toList();
    }
}
