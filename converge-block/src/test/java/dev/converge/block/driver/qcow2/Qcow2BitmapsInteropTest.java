package dev.converge.block.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.block.BlockNode;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.block.qmp.BlockQmp;
import dev.converge.qmp.Args;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.SchemaValidator;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Persistent dirty bitmaps in qcow2 images, with qemu-img, qemu-io and qemu-nbd (+ nbdinfo) as
 * the reference: bitmaps QEMU stored are loaded with their bits, ours are read back by QEMU, an
 * image not closed cleanly (kill -9) gives inconsistent bitmaps, and qemu-img check stays clean.
 */
@Tag("integration")
class Qcow2BitmapsInteropTest {
    private static final long MIB = 1 << 20;
    private static final Path NBDINFO = Path.of("/usr/bin/nbdinfo");
    private static final Path QEMU_NBD = Path.of("/usr/bin/qemu-nbd");

    @TempDir
    Path dir;

    private static String img(String... args) {
        List<String> cmd = new ArrayList<>(List.of(QemuTools.QEMU_IMG.toString()));
        cmd.addAll(List.of(args));
        return QemuTools.ok(cmd.toArray(String[]::new));
    }

    private static JsonNode info(Path image) throws Exception {
        return Qcow2Fixture.JSON.readTree(img("info", "--output=json", image.toString()));
    }

    /** QEMU's view of a stored bitmap: the dirty ranges nbdinfo --map reads from qemu-nbd -B. */
    private static String qemuMap(Path image, String bitmap) {
        Assumptions.assumeTrue(Files.isExecutable(NBDINFO) && Files.isExecutable(QEMU_NBD), "nbdinfo/qemu-nbd missing");
        String out = QemuTools.ok(NBDINFO.toString(), "--map=qemu:dirty-bitmap:" + bitmap, "--", "[",
                QEMU_NBD.toString(), "-r", "-f", "qcow2", "-B", bitmap, image.toString(), "]");
        StringBuilder dirty = new StringBuilder();
        for (String line : out.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 4 && f[3].equals("dirty")) {
                dirty.append(f[0]).append('+').append(f[1]).append(' ');
            }
        }
        return dirty.toString().trim();
    }

    private static String ranges(DirtyBitmap b) {
        StringBuilder s = new StringBuilder();
        for (DirtyBitmap.Range r : b.dirtyRanges(0, b.length())) {
            s.append(r.offset()).append('+').append(r.length()).append(' ');
        }
        return s.toString().trim();
    }

    private static void write(BlockNode n, long offset, long bytes) throws Exception {
        try (Arena a = Arena.ofConfined()) {
            n.write(offset, a.allocate(bytes));
        }
    }

    /** The block commands (bitmaps included) over the fixture's graph. */
    private static QmpRegistry blockCommands(Qcow2Fixture f) {
        QmpRegistry registry = new QmpRegistry();
        new BlockQmp(f.graph).register(registry);
        return registry;
    }

    private static JsonNode qmp(Qcow2Fixture f, QmpRegistry registry, String command, String json) throws Exception {
        var spec = registry.command(command).orElseThrow();
        var args = (com.fasterxml.jackson.databind.node.ObjectNode) Qcow2Fixture.JSON.readTree(json.replace('\'', '"'));
        return f.mainLoop.call(() -> spec.handler().handle(new Args(SchemaValidator.validateArguments(spec, args))));
    }

    @Test
    void bitmapsRoundTripWithQemu() throws Exception {
        QemuTools.assumeInstalled();
        Path image = dir.resolve("rt.qcow2");
        QemuTools.create(image, "compat=1.1", 16 * MIB);
        img("bitmap", "--add", "-g", "65536", image.toString(), "theirs");
        img("bitmap", "--add", "-g", "4096", "--disable", image.toString(), "off");
        QemuTools.io(image, "write 1M 64k");
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            QmpRegistry registry = blockCommands(f);
            Qcow2Node n = f.qcow2("q", image, false);
            DirtyBitmap theirs = n.dirtyBitmap("theirs").orElseThrow();
            assertThat(theirs.persistent()).isTrue();
            assertThat(theirs.enabled()).isTrue();
            assertThat(theirs.inconsistent()).isFalse();
            assertThat(ranges(theirs)).isEqualTo((MIB) + "+65536");
            DirtyBitmap off = n.dirtyBitmap("off").orElseThrow();
            assertThat(off.enabled()).isFalse();
            assertThat(off.dirtyBytes()).isZero();
            // while open, QEMU sees them in use
            assertThat(info(image).at("/format-specific/data/bitmaps/0/flags").toString()).contains("in-use");

            qmp(f, registry, "block-dirty-bitmap-add", "{'node':'q','name':'ours','granularity':512,'persistent':true}");
            qmp(f, registry, "block-dirty-bitmap-add", "{'node':'q','name':'temp'}");
            write(n, 3 * MIB, 1000);
            write(n, 15 * MIB + 512, 512);
            assertThat(ranges(n.dirtyBitmap("ours").orElseThrow())).isEqualTo(3 * MIB + "+1024 " + (15 * MIB + 512) + "+512");
            f.del("q");
        }
        JsonNode bitmaps = info(image).at("/format-specific/data/bitmaps");
        assertThat(bitmaps.toString()).contains("\"name\":\"theirs\"").contains("\"name\":\"ours\"")
                .contains("\"name\":\"off\"").doesNotContain("temp").doesNotContain("in-use");
        assertThat(qemuMap(image, "theirs")).isEqualTo(MIB + "+65536 " + 3 * MIB + "+65536 " + 15 * MIB + "+65536");
        assertThat(qemuMap(image, "ours")).isEqualTo(3 * MIB + "+1024 " + (15 * MIB + 512) + "+512");
        assertThat(qemuMap(image, "off")).isEmpty();
        QemuTools.checkClean(image);

        // and back: QEMU writes more, we read its bits
        QemuTools.io(image, "write 8M 4k");
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            Qcow2Node n = f.qcow2("q", image, true);
            assertThat(ranges(n.dirtyBitmap("ours").orElseThrow()))
                    .isEqualTo(3 * MIB + "+1024 " + 8 * MIB + "+4096 " + (15 * MIB + 512) + "+512");
            assertThat(n.dirtyBitmap("ours").orElseThrow().readonly()).isTrue();
            f.del("q");
        }
        assertThat(info(image).toString()).doesNotContain("in-use"); // a read-only open changes nothing
    }

    @Test
    void removeDropsTheBitmapFromTheImageAtOnce() throws Exception {
        QemuTools.assumeInstalled();
        Path image = dir.resolve("rm.qcow2");
        QemuTools.create(image, "compat=1.1", 16 * MIB);
        img("bitmap", "--add", image.toString(), "a");
        img("bitmap", "--add", image.toString(), "b");
        QemuTools.io(image, "write 0 64k");
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            QmpRegistry registry = blockCommands(f);
            f.qcow2("q", image, false);
            qmp(f, registry, "block-dirty-bitmap-remove", "{'node':'q','name':'a'}");
            assertThat(info(image).at("/format-specific/data/bitmaps").toString()).doesNotContain("\"a\"")
                    .contains("\"b\"");
            f.del("q");
        }
        assertThat(info(image).at("/format-specific/data/bitmaps").size()).isEqualTo(1);
        QemuTools.checkClean(image);
    }

    @Test
    void persistentIsRefusedWhereItCannotBeStored() throws Exception {
        QemuTools.assumeInstalled();
        Path v2 = dir.resolve("v2.qcow2");
        QemuTools.create(v2, "compat=0.10", 16 * MIB);
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            QmpRegistry registry = blockCommands(f);
            Qcow2Node q = f.qcow2("q", v2, false);
            String fileNode = q.children().getFirst().node().nodeName();
            assertThatThrownBy(() -> qmp(f, registry, "block-dirty-bitmap-add",
                    "{'node':'q','name':'b','persistent':true}")).isInstanceOf(QmpException.class)
                    .hasMessage("Can't make bitmap 'b' persistent in 'q': Cannot store dirty bitmaps in qcow2 v2 files");
            assertThatThrownBy(() -> qmp(f, registry, "block-dirty-bitmap-add",
                    "{'node':'" + fileNode + "','name':'b','persistent':true}"))
                    .hasMessage("Can't store persistent bitmaps to " + fileNode);
            f.del("q");
        }
    }

    @Test
    void killedWriterLeavesInconsistentBitmapsThatCanOnlyBeRemoved() throws Exception {
        QemuTools.assumeInstalled();
        Path image = dir.resolve("kill.qcow2");
        QemuTools.create(image, "compat=1.1", 16 * MIB);
        img("bitmap", "--add", image.toString(), "b");
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), Holder.class.getName(), image.toString())
                .redirectErrorStream(true).start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            assertThat(r.readLine()).isEqualTo("open");
            p.destroyForcibly(); // SIGKILL: the bitmaps are never stored
            p.waitFor();
        }
        assertThat(info(image).at("/format-specific/data/bitmaps/0/flags").toString()).contains("in-use");
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            QmpRegistry registry = blockCommands(f);
            Qcow2Node n = f.qcow2("q", image, false);
            DirtyBitmap b = n.dirtyBitmap("b").orElseThrow();
            assertThat(b.inconsistent()).isTrue();
            assertThat(b.recording()).isFalse();
            JsonNode nodes = qmp(f, registry, "query-named-block-nodes", "{'flat':true}");
            assertThat(nodes.findValues("inconsistent").toString()).isEqualTo("[true]");
            assertThatThrownBy(() -> qmp(f, registry, "block-dirty-bitmap-clear", "{'node':'q','name':'b'}"))
                    .hasMessage("Bitmap 'b' is inconsistent and cannot be used");
            f.del("q"); // closing keeps it as it is: still in use, still inconsistent
        }
        assertThat(info(image).at("/format-specific/data/bitmaps/0/flags").toString()).contains("in-use");
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            QmpRegistry registry = blockCommands(f);
            f.qcow2("q", image, false);
            qmp(f, registry, "block-dirty-bitmap-remove", "{'node':'q','name':'b'}");
            f.del("q");
        }
        assertThat(info(image).at("/format-specific/data/bitmaps").isMissingNode()).isTrue();
        QemuTools.checkClean(image);
    }

    /** The process that is killed: opens the image writable, writes, says so, waits. */
    public static final class Holder {
        public static void main(String[] args) throws Exception {
            try (Qcow2Fixture f = new Qcow2Fixture()) {
                Qcow2Node n = f.qcow2("q", Path.of(args[0]), false);
                write(n, 0, 4096);
                n.flush();
                System.out.println("open");
                System.out.flush();
                new java.util.concurrent.CountDownLatch(1).await();
            }
        }
    }
}
