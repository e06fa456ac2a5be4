package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.job.Job;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import dev.converge.job.JobOptions;
import dev.converge.job.qmp.TransactionQmp;
import dev.converge.qmp.schema.ObjectType;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** blockdev-mirror as an action of QMP transaction: all-or-nothing preparation, grouped completion, the joint guard. */
class MirrorTransactionTest {
    static final int SIZE = 1 << 20;

    @TempDir
    Path dir;
    MirrorFixture f;
    /** Lets the "other" job of the joint-guard test end. */
    final CountDownLatch otherMayEnd = new CountDownLatch(1);
    /** The grouped switchover the "other" job leads, once its transaction committed. */
    volatile dev.converge.job.GroupedSwitchover led;

    @BeforeEach
    void setUp() throws Exception {
        f = new MirrorFixture(dir);
        TransactionQmp tx = new TransactionQmp(f.registry);
        tx.register();
        f.mirror.registerTransactionAction(tx);
        // A job of another type that leads the transaction's switchover, as a migration does for
        // the mirrors of its disks: it ends when the test says so.
        tx.registerAction("other", ObjectType.struct("Other", "test"), (data, txn) -> {
            Job j = f.engine.create("other", dev.converge.job.JobKind.plain("other"), new JobDriver<>() {
                @Override
                public void run(JobContext ctx) throws Exception {
                    otherMayEnd.await();
                }
            }, JobOptions.defaults().withTxn(txn));
            return new TransactionQmp.Prepared() {
                @Override
                public void commit() {
                    led = f.engine.leadSwitchover(j).orElse(null);
                    f.engine.start(j);
                }

                @Override
                public void abort() {
                    f.engine.cancel(j.id(), true);
                }
            };
        });
        for (String n : List.of("src1", "src2", "tgt1", "tgt2")) {
            f.image(n, SIZE);
        }
        byte[] data = new byte[SIZE];
        new Random(7).nextBytes(data);
        MirrorFixture.write(f.node("src1"), 0, data);
        MirrorFixture.write(f.node("src2"), 0, java.util.Arrays.copyOf(data, SIZE / 2));
    }

    @AfterEach
    void tearDown() throws Exception {
        otherMayEnd.countDown();
        f.close();
    }

    private static String mirror(String id, String src, String tgt) {
        return "{'type':'blockdev-mirror','data':{'job-id':'" + id + "','device':'" + src + "','target':'" + tgt
                + "','sync':'full'}}";
    }

    @Test
    void groupedMirrorsPivotTogether() throws Exception {
        f.qmp("transaction", "{'actions':[" + mirror("m1", "src1", "tgt1") + "," + mirror("m2", "src2", "tgt2")
                + "],'properties':{'completion-mode':'grouped'}}");
        f.events.awaitStatus("m1", "ready");
        f.events.awaitStatus("m2", "ready");
        f.qmp("job-complete", "{'id':'m1'}");
        f.events.awaitStatus("m1", "waiting");
        assertThat(f.queryJob("m1").path("status").asText()).as("waits for m2").isEqualTo("waiting");
        f.qmp("job-complete", "{'id':'m2'}");
        f.events.awaitStatus("m1", "null");
        f.events.awaitStatus("m2", "null");
        List<String> order = f.events.all().stream().filter(e -> e.name().equals("JOB_STATUS_CHANGE"))
                .map(e -> e.data().path("id").asText() + ":" + e.data().path("status").asText()).toList();
        assertThat(order.indexOf("m1:pending")).isGreaterThan(order.indexOf("m2:waiting"));
        assertThat(MirrorFixture.readAll(f.node("tgt1"))).isEqualTo(MirrorFixture.readAll(f.node("src1")));
        assertThat(MirrorFixture.readAll(f.node("tgt2"))).isEqualTo(MirrorFixture.readAll(f.node("src2")));
    }

    @Test
    void anInvalidActionRefusesTheWholeTransactionAndLeavesNothing() {
        f.fails("transaction", "{'actions':[" + mirror("m1", "src1", "tgt1") + "," + mirror("m2", "src2", "nope")
                + "],'properties':{'completion-mode':'grouped'}}", "Cannot find device='nope' nor node-name='nope'");
        f.events.awaitStatus("m1", "null");
        assertThat(f.events.trace("m1")).containsExactly("created", "aborting", "concluded", "null");
        assertThat(f.qmp("query-jobs", "{}")).isEmpty();
        assertThat(f.node("src1").dirtyBitmaps()).isEmpty();
        assertThat(f.mainLoop.call(() -> f.node("src1").parents())).isEmpty();
        assertThat(f.mainLoop.call(() -> f.node("tgt1").parents())).isEmpty();
        assertThat(f.events.all()).noneMatch(e -> e.name().startsWith("BLOCK_JOB"));
    }

    @Test
    void aMirrorOfAJointTransactionIsCompletedOnlyByItsPartner() throws Exception {
        f.qmp("transaction", "{'actions':[" + mirror("m1", "src1", "tgt1")
                + ",{'type':'other','data':{}}],'properties':{'completion-mode':'grouped'}}");
        f.events.awaitStatus("m1", "ready");
        String why = "Job 'm1' is completed by the switchover of job 'other' of its transaction";
        f.fails("job-complete", "{'id':'m1'}", why);
        f.fails("block-job-complete", "{'device':'m1'}", why);
        f.fails("block-job-cancel", "{'device':'m1'}", why + ": cancel it with force=true, which aborts the transaction");
        assertThat(f.queryJob("m1").path("status").asText()).isEqualTo("ready");
        // What the leader's switchover does: its participants finish in place.
        assertThat(led.participants()).extracting(Job::id).containsExactly("m1");
        led.finishInPlace();
        f.events.awaitStatus("m1", "waiting");
        otherMayEnd.countDown();
        f.events.awaitStatus("m1", "null");
        assertThat(f.events.await("BLOCK_JOB_COMPLETED", "m1").data().has("error")).isFalse();
        assertThat(MirrorFixture.readAll(f.node("tgt1"))).isEqualTo(MirrorFixture.readAll(f.node("src1")));
        assertThat(f.mainLoop.call(() -> f.node("src1").parents())).isEmpty(); // no pivot: no filter, no user moved
    }

    @Test
    void forceCancelOfOneMirrorAbortsTheOthers() {
        f.qmp("transaction", "{'actions':[" + mirror("m1", "src1", "tgt1") + "," + mirror("m2", "src2", "tgt2")
                + "],'properties':{'completion-mode':'grouped'}}");
        f.events.awaitStatus("m2", "ready");
        f.qmp("job-cancel", "{'id':'m1'}");
        f.events.awaitStatus("m1", "null");
        f.events.awaitStatus("m2", "null");
        assertThat(f.events.await("BLOCK_JOB_CANCELLED", "m2").data().path("device").asText()).isEqualTo("m2");
        assertThat(f.mainLoop.call(() -> f.node("src2").parents())).isEmpty();
    }

    /**
     * Regression: the whole disk is dirty from creation, before the filter passes a guest write.
     * run() used to mark it; a write-blocking guest write racing that marked its partly written
     * granule clean, so the rest of the granule never reached the target (seen as 60 KiB of
     * zeroes on a joint switchover's destination).
     */
    @Test
    void aCreatedMirrorHasTheWholeDiskDirtyBeforeAnyGuestWrite() throws Exception {
        var guest = f.attach("vda", "src1");
        Job job = f.mainLoop.call(() -> f.mirror.create("m1", f.node("src1"), f.node("tgt1"),
                new MirrorOptions(MirrorSyncMode.FULL, 65536, 1 << 20, BlockdevOnError.REPORT, BlockdevOnError.REPORT,
                        MirrorCopyMode.WRITE_BLOCKING, true), JobOptions.defaults(), null));
        var bitmap = f.node("src1").dirtyBitmaps().getFirst();
        assertThat(bitmap.dirtyBytes()).isEqualTo(SIZE);
        guest.write(4096, java.lang.foreign.MemorySegment.ofArray(new byte[4096]), java.util.Set.of());
        assertThat(bitmap.dirtyBytes()).as("a partial write leaves its granule dirty").isEqualTo(SIZE);
        f.mainLoop.call(() -> {
            f.engine.start(job);
            return null;
        });
        f.events.awaitStatus("m1", "ready");
        f.qmp("job-complete", "{'id':'m1'}");
        f.events.awaitStatus("m1", "null");
        assertThat(MirrorFixture.readAll(f.node("tgt1"))).isEqualTo(MirrorFixture.readAll(f.node("src1")));
    }
}
