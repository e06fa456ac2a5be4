package dev.converge.block.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.block.BlockBackend;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.mirror.MirrorFixture;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * blockdev-backup end to end on the fixture: the target holds the source as it was when the job
 * was created while the guest writes on (full, top, none with snapshot-access), QEMU's events
 * and legacy commands, and the graph restored afterwards.
 */
class BackupJobTest {
    static final int SIZE = 4 << 20;

    @TempDir
    Path dir;
    MirrorFixture f;
    BlockBackend disk;
    byte[] original;

    @BeforeEach
    void setUp() throws Exception {
        f = new MirrorFixture(dir);
        f.image("src", SIZE);
        f.image("tgt", SIZE);
        original = new byte[SIZE];
        new Random(1).nextBytes(original);
        Arrays.fill(original, 3 << 20, SIZE, (byte) 0); // the last MiB stays zero
        MirrorFixture.write(f.node("src"), 0, Arrays.copyOf(original, 3 << 20));
        disk = f.attach("disk0", "src");
    }

    @AfterEach
    void tearDown() throws Exception {
        f.close();
    }

    /** The guest overwrites the whole disk in scattered 4 KiB writes (the filter copies first). */
    private byte[] guestWritesEverywhere(long seed) throws BlockIOException {
        Random r = new Random(seed);
        byte[] block = new byte[4096];
        for (int i = 0; i < 256; i++) {
            r.nextBytes(block);
            long off = (long) r.nextInt(SIZE / 4096) * 4096;
            disk.write(off, MemorySegment.ofArray(block), Set.of());
        }
        return readAll(disk.node());
    }

    private static byte[] readAll(BlockNode n) throws BlockIOException {
        byte[] b = new byte[SIZE];
        n.read(0, MemorySegment.ofArray(b));
        return b;
    }

    private boolean nodeExists(String name) {
        return f.mainLoop.call(() -> f.graph.find(name).isPresent());
    }

    @Test
    void fullBackupIsThePointInTimeOfItsStartWhileTheGuestWrites() throws Exception {
        // slow enough that the guest's writes land while most of the disk is still to copy
        f.qmp("blockdev-backup", "{'job-id':'b','device':'disk0','target':'tgt','sync':'full','speed':65536,"
                + "'filter-node-name':'cbw'}");
        assertThat(f.mainLoop.call(disk::node).nodeName()).isEqualTo("cbw");
        assertThat(f.mainLoop.call(() -> f.node("cbw").driverName())).isEqualTo("copy-before-write");
        var jobs = f.qmp("query-block-jobs", "{}");
        assertThat(jobs).hasSize(1);
        assertThat(jobs.get(0).path("type").asText()).isEqualTo("backup");
        assertThat(jobs.get(0).path("ready").asBoolean()).isFalse();
        byte[] after = guestWritesEverywhere(2);
        assertThat(after).isNotEqualTo(original);
        f.qmp("block-job-set-speed", "{'device':'b','speed':0}");
        f.events.awaitStatus("b", "null");
        assertThat(f.events.trace("b")).containsExactly("created", "running", "waiting", "pending",
                "BLOCK_JOB_COMPLETED", "concluded", "null");
        var done = f.events.await("BLOCK_JOB_COMPLETED", "b").data();
        assertThat(done.path("type").asText()).isEqualTo("backup");
        assertThat(done.path("offset").asLong()).isEqualTo(done.path("len").asLong()).isEqualTo(SIZE);
        assertThat(done.has("error")).isFalse();
        assertThat(readAll(f.node("tgt"))).as("the target is the source at the backup's start").isEqualTo(original);
        assertThat(readAll(f.node("src"))).as("the guest's writes are on the source").isEqualTo(after);
        assertThat(f.mainLoop.call(disk::node).nodeName()).isEqualTo("src");
        assertThat(nodeExists("cbw")).as("filter removed").isFalse();
        assertThat(f.mainLoop.call(() -> f.node("tgt").parents())).isEmpty();
    }

    @Test
    void syncTopOfANodeWithoutBackingCopiesEverythingAndNeverGoesReady() throws Exception {
        f.qmp("blockdev-backup", "{'job-id':'t','device':'src','target':'tgt','sync':'top','auto-finalize':false,"
                + "'auto-dismiss':false}");
        f.events.await("BLOCK_JOB_PENDING", "t");
        assertThat(f.queryJob("t").path("status").asText()).isEqualTo("pending");
        f.qmp("block-job-finalize", "{'id':'t'}");
        f.events.awaitStatus("t", "concluded");
        f.qmp("block-job-dismiss", "{'id':'t'}");
        assertThat(f.events.trace("t")).containsExactly("created", "running", "waiting", "pending",
                "BLOCK_JOB_PENDING", "BLOCK_JOB_COMPLETED", "concluded", "null");
        assertThat(readAll(f.node("tgt"))).isEqualTo(original);
    }

    @Test
    void syncNoneServesThePointInTimeThroughSnapshotAccessUntilCancelled() throws Exception {
        f.qmp("blockdev-backup", "{'job-id':'fl','device':'disk0','target':'tgt','sync':'none',"
                + "'filter-node-name':'cbw'}");
        f.qmp("blockdev-add", "{'driver':'snapshot-access','node-name':'fleece','file':'cbw'}");
        BlockNode fleece = f.node("fleece");
        assertThat(fleece.readOnly()).isTrue();
        byte[] after = guestWritesEverywhere(3);
        assertThat(readAll(fleece)).as("the point in time, while the guest writes").isEqualTo(original);
        assertThat(f.queryJob("fl").path("status").asText()).as("sync none runs until cancelled").isEqualTo("running");
        assertThat(f.backup.driver("fl").orElseThrow().copyBeforeWriteBytes()).as("only what the guest overwrote")
                .isPositive().isLessThan(SIZE);
        assertThatThrownBy(() -> fleece.write(0, MemorySegment.ofArray(new byte[512]))).isInstanceOf(
                BlockIOException.class);
        f.qmp("block-job-cancel", "{'device':'fl'}");
        f.events.awaitStatus("fl", "null");
        assertThat(f.events.trace("fl")).containsExactly("created", "running", "aborting", "BLOCK_JOB_CANCELLED",
                "concluded", "null");
        assertThat(readAll(f.node("src"))).isEqualTo(after);
        assertThat(f.mainLoop.call(disk::node).nodeName()).isEqualTo("src");
        assertThatThrownBy(() -> readAll(fleece)).as("no point in time once the backup ended")
                .isInstanceOf(BlockIOException.class);
        f.qmp("blockdev-del", "{'node-name':'fleece'}");
        assertThat(nodeExists("cbw")).isFalse();
    }

    @Test
    void cancelWhileCopyingAbortsAndRestoresTheGraph() throws Exception {
        f.qmp("blockdev-backup", "{'job-id':'c','device':'src','target':'tgt','sync':'full','speed':65536}");
        f.events.awaitStatus("c", "running");
        f.qmp("job-cancel", "{'id':'c'}");
        f.events.awaitStatus("c", "null");
        assertThat(f.events.trace("c")).containsExactly("created", "running", "aborting", "BLOCK_JOB_CANCELLED",
                "concluded", "null");
        assertThat(f.mainLoop.call(() -> f.node("src").parents())).extracting(e -> e.parentBackend().name())
                .containsExactly("disk0");
        assertThat(f.qmp("query-block-jobs", "{}")).isEmpty();
    }

    @Test
    void refusalsCarryQemusTextsAndChangeNothing() throws Exception {
        f.image("small", SIZE / 2);
        f.qmp("block-dirty-bitmap-add", "{'node':'src','name':'b0'}");
        String base = "'job-id':'x','device':'src','target':'tgt'";
        f.fails("blockdev-backup", "{'job-id':'x','device':'nope','target':'tgt','sync':'full'}",
                "Cannot find device='nope' nor node-name='nope'");
        f.fails("blockdev-backup", "{'job-id':'x','device':'src','target':'nope','sync':'full'}",
                "Cannot find device='nope' nor node-name='nope'");
        f.fails("blockdev-backup", "{" + base + ",'sync':'bitmap'}",
                "must provide a valid bitmap name for 'bitmap' sync mode");
        f.fails("blockdev-backup", "{" + base + ",'sync':'incremental'}",
                "must provide a valid bitmap name for 'incremental' sync mode");
        f.fails("blockdev-backup", "{" + base + ",'sync':'incremental','bitmap':'b0','bitmap-mode':'never'}",
                "Bitmap sync mode must be 'on-success' when using sync mode 'incremental'");
        f.fails("blockdev-backup", "{" + base + ",'sync':'bitmap','bitmap':'zz','bitmap-mode':'never'}",
                "Bitmap 'zz' could not be found");
        f.fails("blockdev-backup", "{" + base + ",'sync':'bitmap','bitmap':'b0'}",
                "Bitmap sync mode must be given when providing a bitmap");
        f.fails("blockdev-backup", "{" + base + ",'sync':'none','bitmap':'b0','bitmap-mode':'always'}",
                "sync mode 'none' does not produce meaningful bitmap outputs");
        f.fails("blockdev-backup", "{" + base + ",'sync':'full','bitmap':'b0','bitmap-mode':'never'}",
                "Bitmap sync mode 'never' has no meaningful effect when combined with sync mode 'full'");
        f.fails("blockdev-backup", "{" + base + ",'sync':'full','bitmap-mode':'always'}",
                "Cannot specify bitmap sync mode without a bitmap");
        f.fails("blockdev-backup", "{'job-id':'x','device':'src','target':'src','sync':'full'}",
                "Source and target cannot be the same");
        f.fails("blockdev-backup", "{" + base + ",'sync':'full','compress':true}",
                "Compression is not supported for this drive ");
        f.fails("blockdev-backup", "{" + base + ",'sync':'full','x-perf':{'max-workers':0}}",
                "max-workers must be between 1 and 2147483647");
        f.fails("blockdev-backup", "{" + base + ",'sync':'full','x-perf':{'max-chunk':-1}}",
                "max-chunk must be zero (which means no limit) or positive");
        f.fails("blockdev-backup", "{'job-id':'x','device':'src','target':'small','sync':'full'}",
                "Source and target image have different sizes");
        f.fails("blockdev-backup", "{" + base + ",'sync':'full','filter-node-name':'tgt'}",
                "Duplicate nodes with node-name='tgt'");
        f.fails("blockdev-backup", "{'job-id':'x','device':'disk0','target':'tgt','sync':'full','speed':-1}",
                "Parameter 'speed' expects a non-negative value");
        assertThat(f.events.all()).isEmpty();
        assertThat(f.mainLoop.call(() -> f.node("src").parents())).hasSize(1);
        assertThat(f.node("src").dirtyBitmap("b0").orElseThrow().busy()).isFalse();
        assertThat(f.node("src").dirtyBitmaps()).hasSize(1);
        // a second backup of a node in use
        f.qmp("blockdev-backup", "{'job-id':'one','device':'src','target':'tgt','sync':'none'}");
        f.image("tgt2", SIZE);
        f.fails("blockdev-backup", "{'job-id':'two','device':'src','target':'tgt2','sync':'full'}",
                "Node 'src' is busy: block device is in use by block job: backup");
        f.fails("blockdev-backup", "{'job-id':'one','device':'small','target':'tgt2','sync':'full'}",
                "Source and target image have different sizes");
        f.qmp("job-cancel", "{'id':'one'}");
        f.events.awaitStatus("one", "null");
    }
}
