package dev.converge.block.chain;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.block.BlockBackend;
import dev.converge.block.ImageTools;
import dev.converge.block.mirror.MirrorFixture;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * block-stream and block-commit (intermediate and active) on a chain base ← mid ← top made by
 * qemu-img, with a guest writing into the active layer while the job runs: the result reads
 * exactly as the chain did plus the guest's writes (checked against qemu-img convert of the
 * chain, byte for byte), the images pass qemu-img check, and qemu-img info shows the new
 * backing file.
 */
@Tag("integration")
class ChainJobsTest {
    private static final int SIZE = 16 << 20;

    @TempDir
    Path dir;

    private Path base;
    private Path mid;
    private Path top;

    /** base: data everywhere; mid: two ranges; top: one range and a zeroed range. */
    private void chain() throws Exception {
        ImageTools.assumeInstalled();
        base = dir.resolve("base.qcow2");
        mid = dir.resolve("mid.qcow2");
        top = dir.resolve("top.qcow2");
        ImageTools.run(ImageTools.IMG, "create", "-q", "-f", "qcow2", base.toString(), Integer.toString(SIZE));
        ImageTools.io(base, "write -P 0x41 0 16M");
        ImageTools.run(ImageTools.IMG, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
                mid.toString());
        ImageTools.io(mid, "write -P 0x42 1M 3M", "write -P 0x43 9M 64k");
        ImageTools.run(ImageTools.IMG, "create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2",
                top.toString());
        ImageTools.io(top, "write -P 0x44 2M 512k", "write -z 12M 1M");
    }

    /** The chain opened node by node (base, mid, top), top used by a guest device 'drive'. */
    private BlockBackend open(MirrorFixture f) {
        f.qmp("blockdev-add", "{'driver':'qcow2','node-name':'base','read-only':true,'file':{'driver':'file',"
                + "'filename':'" + base + "'}}");
        f.qmp("blockdev-add", "{'driver':'qcow2','node-name':'mid','read-only':true,'backing':'base','file':"
                + "{'driver':'file','filename':'" + mid + "'}}");
        f.qmp("blockdev-add", "{'driver':'qcow2','node-name':'top','backing':'mid','file':{'driver':'file',"
                + "'filename':'" + top + "'}}");
        return f.attach("drive", "top");
    }

    /** A guest: {@code n} writes of random data at random offsets, applied to {@code model} too. */
    private static CompletableFuture<Void> guest(BlockBackend drive, byte[] model, int n, long seed) {
        return CompletableFuture.runAsync(() -> {
            Random r = new Random(seed);
            try {
                for (int i = 0; i < n; i++) {
                    int len = (1 + r.nextInt(32)) * 4096;
                    int off = r.nextInt(SIZE - len);
                    byte[] data = new byte[len];
                    r.nextBytes(data);
                    drive.write(off, MemorySegment.ofArray(data), Set.of());
                    System.arraycopy(data, 0, model, off, len);
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, r -> Thread.ofVirtual().start(r));
    }

    private static byte[] read(BlockBackend drive) throws Exception {
        byte[] b = new byte[SIZE];
        drive.read(0, MemorySegment.ofArray(b));
        return b;
    }

    private void close(MirrorFixture f, BlockBackend drive, String... nodes) {
        f.mainLoop.call(() -> {
            f.graph.detachBackend(drive);
            return null;
        });
        for (String n : nodes) {
            f.qmp("blockdev-del", "{'node-name':'" + n + "'}");
        }
    }

    @Test
    void streamIntoTopWhileTheGuestWrites() throws Exception {
        chain();
        byte[] model = ImageTools.contents(top, dir.resolve("before"));
        try (MirrorFixture f = new MirrorFixture(dir)) {
            BlockBackend drive = open(f);
            CompletableFuture<Void> writes = guest(drive, model, 300, 1);
            f.qmp("block-stream", "{'job-id':'s','device':'top','base-node':'base','speed':33554432}");
            f.events.await("BLOCK_JOB_COMPLETED", "s");
            writes.get(60, TimeUnit.SECONDS);
            f.events.awaitStatus("s", "null");
            assertThat(f.events.trace("s")).containsExactly("created", "running", "waiting", "pending",
                    "BLOCK_JOB_COMPLETED", "concluded", "null");
            JsonNode completed = f.events.await("BLOCK_JOB_COMPLETED", "s").data();
            assertThat(completed.path("type").asText()).isEqualTo("stream");
            assertThat(completed.has("error")).isFalse();
            assertThat(f.node("top").backing().orElseThrow().nodeName()).isEqualTo("base");
            assertThat(f.mainLoop.call(() -> f.graph.find("mid").isPresent())).as("mid is monitor-owned").isTrue();
            assertThat(read(drive)).isEqualTo(model);
            close(f, drive, "top", "mid", "base");
        }
        ImageTools.checkClean(top);
        assertThat(ImageTools.info(top).path("backing-filename").asText()).isEqualTo(base.toString());
        assertThat(ImageTools.contents(top, dir.resolve("after"))).isEqualTo(model);
    }

    @Test
    void streamTheWholeChainDropsTheBacking() throws Exception {
        chain();
        byte[] model = ImageTools.contents(top, dir.resolve("before"));
        try (MirrorFixture f = new MirrorFixture(dir)) {
            BlockBackend drive = open(f);
            f.qmp("block-stream", "{'job-id':'s','device':'top'}");
            f.events.awaitStatus("s", "null");
            assertThat(f.node("top").backing()).isEmpty();
            assertThat(read(drive)).isEqualTo(model);
            close(f, drive, "top", "mid", "base");
        }
        ImageTools.checkClean(top);
        assertThat(ImageTools.info(top).has("backing-filename")).isFalse();
        assertThat(ImageTools.contents(top, dir.resolve("after"))).isEqualTo(model);
    }

    @Test
    void streamAChainOpenedFromTheImagesBackingFileNames() throws Exception {
        chain();
        byte[] model = ImageTools.contents(top, dir.resolve("before"));
        try (MirrorFixture f = new MirrorFixture(dir)) {
            f.qmp("blockdev-add", "{'driver':'qcow2','node-name':'top','file':{'driver':'file','filename':'" + top
                    + "'}}");
            BlockBackend drive = f.attach("drive", "top");
            f.qmp("block-stream", "{'job-id':'s','device':'top'}");
            f.events.awaitStatus("s", "null");
            assertThat(f.node("top").backing()).isEmpty();
            assertThat(f.mainLoop.call(() -> f.graph.nodes().size())).as("the implicit chain is gone").isEqualTo(2);
            assertThat(read(drive)).isEqualTo(model);
            close(f, drive, "top");
        }
        ImageTools.checkClean(top);
        assertThat(ImageTools.contents(top, dir.resolve("after"))).isEqualTo(model);
    }

    @Test
    void commitAnIntermediateImageWhileTheGuestWrites() throws Exception {
        chain();
        byte[] model = ImageTools.contents(top, dir.resolve("before"));
        try (MirrorFixture f = new MirrorFixture(dir)) {
            BlockBackend drive = open(f);
            CompletableFuture<Void> writes = guest(drive, model, 300, 2);
            f.qmp("block-commit", "{'job-id':'c','device':'top','top-node':'mid','base-node':'base'}");
            f.events.await("BLOCK_JOB_COMPLETED", "c");
            writes.get(60, TimeUnit.SECONDS);
            f.events.awaitStatus("c", "null");
            assertThat(f.events.await("BLOCK_JOB_COMPLETED", "c").data().path("type").asText()).isEqualTo("commit");
            assertThat(f.node("top").backing().orElseThrow().nodeName()).isEqualTo("base");
            assertThat(f.node("base").readOnly()).as("base read-only again").isTrue();
            assertThat(read(drive)).isEqualTo(model);
            close(f, drive, "top", "mid", "base");
        }
        ImageTools.checkClean(base);
        ImageTools.checkClean(top);
        assertThat(ImageTools.info(top).path("backing-filename").asText()).isEqualTo(base.toString());
        assertThat(ImageTools.contents(top, dir.resolve("after"))).isEqualTo(model);
    }

    @Test
    void activeCommitGoesReadyAndPivotsToTheBase() throws Exception {
        chain();
        byte[] model = ImageTools.contents(top, dir.resolve("before"));
        try (MirrorFixture f = new MirrorFixture(dir)) {
            BlockBackend drive = open(f);
            CompletableFuture<Void> writes = guest(drive, model, 300, 3);
            f.qmp("block-commit", "{'job-id':'ac','device':'top','base-node':'base'}");
            JsonNode ready = f.events.await("BLOCK_JOB_READY", "ac").data();
            assertThat(ready.path("type").asText()).isEqualTo("commit");
            writes.get(60, TimeUnit.SECONDS);
            f.qmp("job-complete", "{'id':'ac'}");
            f.events.await("BLOCK_JOB_COMPLETED", "ac");
            f.events.awaitStatus("ac", "null");
            assertThat(drive.node().nodeName()).isEqualTo("base");
            assertThat(f.node("base").readOnly()).as("the base is the active layer now").isFalse();
            assertThat(read(drive)).isEqualTo(model);
            close(f, drive, "top", "mid", "base");
        }
        ImageTools.checkClean(base);
        assertThat(ImageTools.contents(base, dir.resolve("after"))).isEqualTo(model);
    }

    @Test
    void qemuTextsForBadArguments() throws Exception {
        chain();
        try (MirrorFixture f = new MirrorFixture(dir)) {
            BlockBackend drive = open(f);
            f.fails("block-stream", "{'device':'top','base':'x','base-node':'base'}",
                    "'base' and 'base-node' cannot be specified at the same time");
            f.fails("block-stream", "{'device':'top','base':'x','bottom':'mid'}",
                    "'base' and 'bottom' cannot be specified at the same time");
            f.fails("block-stream", "{'device':'top','bottom':'mid','base-node':'base'}",
                    "'bottom' and 'base-node' cannot be specified at the same time");
            f.fails("block-stream", "{'device':'nope'}", "Cannot find device='nope' nor node-name='nope'");
            f.fails("block-stream", "{'device':'top','base':'nope'}", "Can't find 'nope' in the backing chain");
            f.fails("block-stream", "{'device':'mid','base-node':'top'}", "Node 'top' is not a backing image of 'mid'");
            f.fails("block-stream", "{'device':'mid','bottom':'top'}",
                    "Node 'top' is not in a chain starting from 'mid'");
            f.fails("block-stream", "{'device':'top','backing-file':'x'}",
                    "backing file specified, but streaming the entire chain");
            f.fails("block-commit", "{'device':'nope'}", "Device 'nope' not found");
            f.fails("block-commit", "{'device':'top','top':'a','top-node':'mid'}",
                    "'top-node' and 'top' are mutually exclusive");
            f.fails("block-commit", "{'device':'top','top':'nope'}", "Top image file nope not found");
            f.fails("block-commit", "{'device':'mid','top-node':'top'}", "'top' is not in this backing file chain");
            f.fails("block-commit", "{'device':'top','base':'a','base-node':'base'}",
                    "'base-node' and 'base' are mutually exclusive");
            f.fails("block-commit", "{'device':'base'}", "There is no backimg image");
            f.fails("block-commit", "{'device':'top','top-node':'mid','base-node':'mid'}",
                    "cannot commit an image into itself");
            f.fails("block-commit", "{'job-id':'c','device':'top','backing-file':'x'}",
                    "'backing-file' specified, but 'top' is the active layer");
            f.qmp("block-stream", "{'job-id':'s1','device':'top','base-node':'base','speed':1}");
            f.fails("block-commit", "{'job-id':'c2','device':'top','top-node':'mid','base-node':'base'}",
                    "Node 'mid' is busy: block device is in use by block job: stream");
            f.qmp("job-cancel", "{'id':'s1'}");
            f.events.awaitStatus("s1", "null");
            assertThat(f.node("top").backing().orElseThrow().nodeName()).as("a cancelled stream keeps the chain")
                    .isEqualTo("mid");
            byte[] all = read(drive);
            assertThat(Arrays.copyOfRange(all, 2 << 20, (2 << 20) + 4)).containsOnly(0x44);
            close(f, drive, "top", "mid", "base");
        }
        ImageTools.checkClean(top);
    }
}
