package dev.converge.bench.mirror;

import dev.converge.bench.Sizes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.converge.bench.Daemons;
import dev.converge.daemon.launch.ChildDaemon;
import dev.converge.qmp.client.QmpClient;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Real runs at 16 MiB: the mirror sequence on qemu-storage-daemon and on converged, the writer
 * through QSD's NBD export, and the whole benchmark's report. Skipped visibly where QSD is not
 * installed; the converged run is skipped visibly while converged lacks blockdev-mirror. Says
 * nothing about speed.
 */
@Tag("integration")
class MirrorRunTest {
    private static final long SIZE = 16 * Sizes.MiB;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static void requireQsd() {
        assumeTrue(Daemons.onPath("qemu-storage-daemon"), "qemu-storage-daemon not installed (apt-get install qemu-system-common)");
    }

    private RunOutcome runOn(Side side, CopyMode mode, long writeRate) throws Exception {
        Images.Image img = Images.full(dir.resolve("src.img"), SIZE, 11);
        try (DaemonSlot slot = new DaemonSlot(side, dir)) {
            MirrorRun run = slot.runner();
            return run.run(new MirrorRun.Spec(img, dir.resolve("tgt.img"), mode, writeRate, slot.nbdSocket(),
                    TestTimeouts.MEDIUM, 5));
        }
    }

    @Test
    void fullImageMirrorsToReadyOnQsdAndTheTargetEqualsTheSource() throws Exception {
        requireQsd();
        RunOutcome o = runOn(Side.QSD, CopyMode.BACKGROUND, 0);
        assertThat(o).as(o.summary()).isInstanceOf(RunOutcome.Ready.class);
        assertThat(((RunOutcome.Ready) o).readyNanos()).isPositive();
        assertThat(dir.resolve("tgt.img")).as("target removed after the run").doesNotExist();
    }

    @Test
    void fullImageMirrorsToReadyOnConverged() throws Exception {
        RunOutcome o = runOn(Side.CONVERGED, CopyMode.BACKGROUND, 0);
        assumeTrue(!(o instanceof RunOutcome.Unavailable), "converged: " + o.summary());
        assertThat(o).as(o.summary()).isInstanceOf(RunOutcome.Ready.class);
    }

    @Test
    void aMirrorNotReadyInTimeIsCancelledAndTheDaemonServesTheNextRun() throws Exception {
        requireQsd();
        // Large enough that the mirror cannot be READY before the events are first looked at, even
        // when the test's thread is held up for a while on a loaded machine (QSD mirrors 16 MiB in a blink).
        Images.Image img = Images.full(dir.resolve("src.img"), 8 * SIZE, 12);
        try (DaemonSlot slot = new DaemonSlot(Side.QSD, dir)) {
            MirrorRun run = slot.runner();
            // A zero deadline: READY cannot have arrived by the time blockdev-mirror's reply is read.
            RunOutcome late = run.run(new MirrorRun.Spec(img, dir.resolve("tgt.img"), CopyMode.BACKGROUND, Sizes.MiB,
                    slot.nbdSocket(), java.time.Duration.ZERO, 1));
            assertThat(late).as(late.summary()).isInstanceOf(RunOutcome.NotReady.class);
            assertThat(late.summary()).isEqualTo("not ready within 0 s; cancelled");
            // Nodes, export and NBD server are gone: the same sequence runs again on the same daemon.
            RunOutcome next = run.run(new MirrorRun.Spec(img, dir.resolve("tgt.img"), CopyMode.BACKGROUND, Sizes.MiB,
                    slot.nbdSocket(), TestTimeouts.MEDIUM, 2));
            assertThat(next).as(next.summary()).isInstanceOf(RunOutcome.Ready.class);
        }
    }

    @ParameterizedTest
    @EnumSource(CopyMode.class)
    void mirrorUnderTheNbdWriterIsVerifiedOnQsd(CopyMode mode) throws Exception {
        requireQsd();
        RunOutcome o = runOn(Side.QSD, mode, 20 * Sizes.MiB);
        assertThat(o).as(o.summary()).isInstanceOf(RunOutcome.Ready.class);
        assertThat(((RunOutcome.Ready) o).writer()).isNotNull();
    }

    @Test
    void nbdWriterDataLandsInTheFileAndAReadOnlyExportIsRefused() throws Exception {
        requireQsd();
        Path file = Images.emptyTarget(dir.resolve("disk.img"), SIZE);
        Path sock = dir.resolve("nbd.sock");
        try (ChildDaemon qsd = Daemons.qemuStorageDaemon(dir); QmpClient qmp = qsd.connect(TestTimeouts.MEDIUM)) {
            qmp.execute("blockdev-add", JSON.createObjectNode().put("driver", "file").put("node-name", "f")
                    .put("filename", file.toString()));
            qmp.execute("nbd-server-start", JSON.createObjectNode().set("addr", JSON.createObjectNode().put("type", "unix")
                    .set("data", JSON.createObjectNode().put("path", sock.toString()))));
            qmp.execute("block-export-add", JSON.createObjectNode().put("type", "nbd").put("id", "w").put("node-name", "f")
                    .put("name", "rw").put("writable", true));
            qmp.execute("block-export-add", JSON.createObjectNode().put("type", "nbd").put("id", "r").put("node-name", "f")
                    .put("name", "ro"));
            byte[] block = new byte[PacedWriter.BLOCK];
            Arrays.fill(block, (byte) 0x5a);
            long at = 3 * Sizes.MiB + PacedWriter.BLOCK;
            try (NbdWriteClient c = NbdWriteClient.connect(sock, "rw")) {
                assertThat(c.exportSize()).isEqualTo(SIZE);
                c.write(at, ByteBuffer.wrap(block));
                c.flush();
            }
            byte[] onDisk = new byte[PacedWriter.BLOCK];
            ByteBuffer.wrap(Files.readAllBytes(file), (int) at, onDisk.length).get(onDisk);
            assertThat(onDisk).isEqualTo(block);

            assertThatIo(() -> NbdWriteClient.connect(sock, "ro"), "read-only");
            assertThatIo(() -> NbdWriteClient.connect(sock, "nope"), "refused export 'nope'");
        }
    }

    @Test
    void theBenchmarkReportsTheFullCaseForBothSides() throws Exception {
        requireQsd();
        MirrorOptions o = new MirrorOptions(SIZE, dir, java.util.EnumSet.of(MirrorCase.FULL, MirrorCase.CP), Sizes.MiB, 1,
                TestTimeouts.MEDIUM);
        String report = MirrorBench.run(o, new PrintStream(OutputStream.nullOutputStream()));
        assertThat(report).containsPattern("full +background +qemu-storage-daemon +1 .* 1/1");
        assertThat(report).containsPattern("full +- +cp --sparse=always +1 .* 1/1");
        assertThat(report).containsPattern("sparse +- +cp --sparse=always +1 .* 1/1");
        assertThat(report).contains("page cache: warm for both sides");
        assertThat(report).containsPattern("full +background +converged +1 ");
        try (var files = Files.list(dir)) {
            assertThat(files).as("work directory removed").isEmpty();
        }
    }

    private interface IoCall {
        Object call() throws IOException;
    }

    private static void assertThatIo(IoCall call, String message) {
        org.assertj.core.api.Assertions.assertThatThrownBy(call::call).isInstanceOf(IOException.class).hasMessageContaining(message);
    }
}
