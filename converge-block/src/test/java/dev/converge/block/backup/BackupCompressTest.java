package dev.converge.block.backup;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.block.BlockBackend;
import dev.converge.block.ImageTools;
import dev.converge.block.mirror.MirrorFixture;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * blockdev-backup with {@code compress: true} onto a qcow2 target, end to end: the target holds
 * the point in time (while the guest writes), passes {@code qemu-img check}, reads back with
 * qemu-img, holds compressed clusters and takes less space than the data; a target cluster
 * larger than the backup's 64 KiB makes the copy unit that cluster; a target that already holds
 * data fails the job with EIO, as QEMU's compressed writes never overwrite.
 */
@Tag("integration")
class BackupCompressTest {
    private static final int SIZE = 8 << 20;

    @TempDir
    Path dir;

    @BeforeEach
    void peers() {
        ImageTools.assumeInstalled();
    }

    /** Compressible text, a zero MiB and a random MiB. */
    private static byte[] sourceData() {
        byte[] b = new byte[SIZE];
        byte[] t = "a compressible line of a guest's disk, backed up compressed\n".getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < SIZE; i++) {
            b[i] = t[i % t.length];
        }
        Arrays.fill(b, 2 << 20, 3 << 20, (byte) 0);
        byte[] rnd = new byte[1 << 20];
        new Random(9).nextBytes(rnd);
        System.arraycopy(rnd, 0, b, 5 << 20, rnd.length);
        return b;
    }

    private Path qcow2Target(MirrorFixture f, String options) throws Exception {
        Path img = dir.resolve("tgt.qcow2");
        ImageTools.run(ImageTools.IMG, "create", "-q", "-f", "qcow2", "-o", options, img.toString(),
                Integer.toString(SIZE));
        f.qmp("blockdev-add", "{'driver':'qcow2','node-name':'tgt','file':{'driver':'file','filename':'" + img
                + "'}}");
        return img;
    }

    @ParameterizedTest
    @ValueSource(strings = {"compat=1.1", "compat=1.1,cluster_size=4096", "compat=1.1,cluster_size=256k",
            "compat=0.10"})
    void compressedBackupIsThePointInTimeAndSmaller(String options) throws Exception {
        byte[] original = sourceData();
        Path img;
        try (MirrorFixture f = new MirrorFixture(dir)) {
            f.image("src", SIZE);
            MirrorFixture.write(f.node("src"), 0, original);
            BlockBackend disk = f.attach("disk0", "src");
            img = qcow2Target(f, options);
            f.qmp("blockdev-backup", "{'job-id':'b','device':'disk0','target':'tgt','sync':'full','compress':true,"
                    + "'speed':1048576}");
            // guest writes while most of the disk is still to copy: copy-before-write compresses too
            byte[] block = new byte[4096];
            Random r = new Random(2);
            for (int i = 0; i < 32; i++) {
                r.nextBytes(block);
                disk.write((long) r.nextInt(SIZE / 4096) * 4096, MemorySegment.ofArray(block), Set.of());
            }
            f.qmp("block-job-set-speed", "{'device':'b','speed':0}");
            var done = f.events.await("BLOCK_JOB_COMPLETED", "b");
            assertThat(done.data().has("error")).as("%s", done).isFalse();
            assertThat(MirrorFixture.readAll(f.node("tgt"))).as("the point in time").isEqualTo(original);
            f.qmp("blockdev-del", "{'node-name':'tgt'}");
        }
        ImageTools.checkClean(img);
        assertThat(ImageTools.contents(img, dir)).as("qemu-img reads the backup").isEqualTo(original);
        var check = MirrorFixture.parse(ImageTools.run(ImageTools.IMG, "check", "--output=json", img.toString()));
        assertThat(check.path("compressed-clusters").asLong()).as("compressed clusters").isPositive();
        // the random MiB stays plain, the zero MiB is zero clusters, the text shrinks
        assertThat(Files.size(img)).as("target file size").isLessThan(SIZE / 3);
    }

    @Test
    void aTargetThatHoldsDataFailsTheJobAsQemus() throws Exception {
        try (MirrorFixture f = new MirrorFixture(dir)) {
            f.image("src", SIZE);
            MirrorFixture.write(f.node("src"), 0, sourceData());
            f.attach("disk0", "src");
            Path img = dir.resolve("tgt.qcow2");
            ImageTools.run(ImageTools.IMG, "create", "-q", "-f", "qcow2", img.toString(), Integer.toString(SIZE));
            ImageTools.io(img, "write -P 0x11 1M 64k");
            f.qmp("blockdev-add", "{'driver':'qcow2','node-name':'tgt','file':{'driver':'file','filename':'" + img
                    + "'}}");
            f.qmp("blockdev-backup", "{'job-id':'b','device':'disk0','target':'tgt','sync':'full','compress':true}");
            var done = f.events.await("BLOCK_JOB_COMPLETED", "b");
            assertThat(done.data().path("error").asText()).isEqualTo("Input/output error");
            f.qmp("blockdev-del", "{'node-name':'tgt'}");
        }
    }

    @Test
    void refusedForATargetWithoutCompressedWrites() throws Exception {
        try (MirrorFixture f = new MirrorFixture(dir)) {
            f.image("src", SIZE);
            f.image("tgt", SIZE);
            f.fails("blockdev-backup", "{'job-id':'b','device':'src','target':'tgt','sync':'full','compress':true}",
                    "Compression is not supported for this drive ");
            assertThat(f.qmp("query-block-jobs", "{}")).isEmpty();
        }
    }
}
