package dev.converge.block.backup;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.block.BlockBackend;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.block.mirror.MirrorFixture;
import dev.converge.job.qmp.TransactionQmp;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Incremental backup with a dirty bitmap: the frozen bitmap and its successor, each bitmap-mode,
 * the restored chain (full + incremental applied) equal to the source at each point in time, and
 * grouped transactions of backups that start or fail together.
 */
class BackupBitmapTest {
    static final int SIZE = 4 << 20;

    @TempDir
    Path dir;
    MirrorFixture f;
    BlockBackend disk;

    @BeforeEach
    void setUp() throws Exception {
        f = new MirrorFixture(dir);
        TransactionQmp tx = new TransactionQmp(f.registry);
        tx.register();
        f.backup.registerTransactionAction(tx);
        f.blockQmp.bitmaps().registerTransactionActions(tx);
        for (String n : new String[] {"src", "t0", "t1", "t2"}) {
            f.image(n, SIZE);
        }
        byte[] data = new byte[SIZE];
        new Random(1).nextBytes(data);
        MirrorFixture.write(f.node("src"), 0, data);
        disk = f.attach("disk0", "src");
        f.qmp("block-dirty-bitmap-add", "{'node':'src','name':'b0'}");
    }

    @AfterEach
    void tearDown() throws Exception {
        f.close();
    }

    private void guestWrites(long seed, int count) throws BlockIOException {
        Random r = new Random(seed);
        byte[] block = new byte[4096];
        for (int i = 0; i < count; i++) {
            r.nextBytes(block);
            disk.write((long) r.nextInt(SIZE / 4096) * 4096, MemorySegment.ofArray(block), Set.of());
        }
    }

    private static byte[] readAll(BlockNode n) throws BlockIOException {
        byte[] b = new byte[SIZE];
        n.read(0, MemorySegment.ofArray(b));
        return b;
    }

    private DirtyBitmap b0() {
        return f.node("src").dirtyBitmap("b0").orElseThrow();
    }

    private void backup(String id, String extra) {
        f.qmp("blockdev-backup", "{'job-id':'" + id + "','device':'disk0'," + extra + "}");
    }

    @Test
    void fullThenIncrementalRestoresEachPointInTimeByteForByte() throws Exception {
        guestWrites(1, 40);
        assertThat(b0().dirtyBytes()).isPositive();
        // full backup that also starts the bitmap afresh (on success it holds only later writes)
        backup("full", "'target':'t0','sync':'full','bitmap':'b0','bitmap-mode':'on-success'");
        f.events.awaitStatus("full", "null");
        byte[] pointFull = readAll(f.node("src"));
        assertThat(readAll(f.node("t0"))).isEqualTo(pointFull);
        assertThat(b0().dirtyBytes()).as("on success: only what was written during the backup").isZero();
        assertThat(b0().busy()).isFalse();

        guestWrites(2, 8);
        byte[] pointIncr = readAll(f.node("src"));
        long dirty = b0().dirtyBytes();
        assertThat(dirty).isPositive().isLessThan(SIZE / 4);
        // restore chain: t1 starts as the full backup, the incremental applies the changed clusters
        MirrorFixture.write(f.node("t1"), 0, readAll(f.node("t0")));
        backup("inc", "'target':'t1','sync':'incremental','bitmap':'b0','speed':65536");
        assertThat(b0().busy()).as("frozen while the job runs").isTrue();
        f.fails("block-dirty-bitmap-clear", "{'node':'src','name':'b0'}",
                "Bitmap 'b0' is currently in use by another operation and cannot be used");
        guestWrites(3, 10); // after the point in time: recorded by the successor, not in this backup
        BackupJob job = f.backup.driver("inc").orElseThrow();
        f.qmp("block-job-set-speed", "{'device':'inc','speed':0}");
        f.events.awaitStatus("inc", "concluded");
        assertThat(job.copiedBytes() - job.copyBeforeWriteBytes()).as("copies only the dirty clusters")
                .isLessThanOrEqualTo(dirty);
        assertThat(job.copiedBytes()).isLessThan(SIZE / 2);
        f.events.awaitStatus("inc", "null");
        assertThat(readAll(f.node("t1"))).as("full + incremental = the source at the incremental's start")
                .isEqualTo(pointIncr);
        assertThat(b0().dirtyBytes()).as("the writes made during the incremental").isPositive();
        assertThat(b0().busy()).isFalse();
        assertThat(f.node("src").dirtyBitmaps()).as("successor gone").hasSize(1);
    }

    @Test
    void aBitmapMadeInTheSameTransactionAsAFullBackupStartsTheChain() throws Exception {
        f.qmp("transaction", "{'actions':[{'type':'block-dirty-bitmap-add','data':{'node':'src','name':'b1'}},"
                + "{'type':'blockdev-backup','data':{'job-id':'f','device':'disk0','target':'t0','sync':'full'}}]}");
        f.events.awaitStatus("f", "null");
        DirtyBitmap b1 = f.node("src").dirtyBitmap("b1").orElseThrow();
        assertThat(b1.dirtyBytes()).isZero();
        guestWrites(8, 5);
        byte[] now = readAll(f.node("src"));
        MirrorFixture.write(f.node("t1"), 0, readAll(f.node("t0")));
        backup("i", "'target':'t1','sync':'incremental','bitmap':'b1'");
        f.events.awaitStatus("i", "null");
        assertThat(readAll(f.node("t1"))).isEqualTo(now);
    }

    @Test
    void aCancelledIncrementalKeepsEveryBitAndAddsTheWritesMadeMeanwhile() throws Exception {
        guestWrites(4, 20);
        long before = b0().dirtyBytes();
        backup("inc", "'target':'t1','sync':'bitmap','bitmap':'b0','bitmap-mode':'on-success','speed':4096");
        guestWrites(5, 20);
        f.qmp("block-job-cancel", "{'device':'inc'}");
        f.events.awaitStatus("inc", "null");
        assertThat(f.events.trace("inc")).contains("BLOCK_JOB_CANCELLED");
        assertThat(b0().dirtyBytes()).isGreaterThan(before);
        assertThat(b0().busy()).isFalse();
        assertThat(b0().enabled()).isTrue();
        assertThat(f.node("src").dirtyBitmaps()).hasSize(1);
    }

    @Test
    void bitmapModeNeverKeepsTheBitmapAfterSuccess() throws Exception {
        guestWrites(6, 20);
        long before = b0().dirtyBytes();
        backup("d", "'target':'t1','sync':'bitmap','bitmap':'b0','bitmap-mode':'never'");
        f.events.awaitStatus("d", "null");
        assertThat(f.events.trace("d")).contains("BLOCK_JOB_COMPLETED");
        assertThat(b0().dirtyBytes()).as("a differential backup: bits stay").isGreaterThanOrEqualTo(before);
    }

    @Test
    void groupedBackupsOfTwoDisksFinishTogetherAndAnInvalidActionLeavesNothing() throws Exception {
        f.image("src2", SIZE);
        MirrorFixture.write(f.node("src2"), 0, new byte[] {1, 2, 3});
        f.fails("transaction", "{'actions':[{'type':'blockdev-backup','data':{'job-id':'a','device':'src',"
                + "'target':'t0','sync':'full'}},{'type':'blockdev-backup','data':{'job-id':'b','device':'src2',"
                + "'target':'nope','sync':'full'}}],'properties':{'completion-mode':'grouped'}}",
                "Cannot find device='nope' nor node-name='nope'");
        f.events.awaitStatus("a", "null");
        assertThat(f.events.trace("a")).containsExactly("created", "aborting", "concluded", "null");
        assertThat(f.mainLoop.call(() -> f.node("src").parents())).hasSize(1);

        byte[] p1 = readAll(f.node("src"));
        byte[] p2 = readAll(f.node("src2"));
        f.qmp("transaction", "{'actions':[{'type':'blockdev-backup','data':{'job-id':'a','device':'disk0',"
                + "'target':'t0','sync':'full','speed':65536}},{'type':'blockdev-backup','data':{'job-id':'b',"
                + "'device':'src2','target':'t1','sync':'full'}}],'properties':{'completion-mode':'grouped'}}");
        f.events.awaitStatus("b", "waiting");
        guestWrites(7, 20);
        assertThat(f.queryJob("b").path("status").asText()).as("waits for its partner").isEqualTo("waiting");
        f.qmp("block-job-set-speed", "{'device':'a','speed':0}");
        f.events.awaitStatus("a", "null");
        f.events.awaitStatus("b", "null");
        assertThat(readAll(f.node("t0"))).isEqualTo(p1);
        assertThat(readAll(f.node("t1"))).isEqualTo(p2);

        // a failing partner cancels the other: both report cancelled
        f.qmp("transaction", "{'actions':[{'type':'blockdev-backup','data':{'job-id':'c','device':'disk0',"
                + "'target':'t2','sync':'none'}},{'type':'blockdev-backup','data':{'job-id':'e','device':'src2',"
                + "'target':'t1','sync':'full','speed':4096}}],'properties':{'completion-mode':'grouped'}}");
        f.qmp("job-cancel", "{'id':'e'}");
        f.events.awaitStatus("c", "null");
        f.events.awaitStatus("e", "null");
        assertThat(f.events.trace("c")).contains("BLOCK_JOB_CANCELLED");
        assertThat(f.mainLoop.call(() -> f.node("src").parents())).hasSize(1);
    }
}
