package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.block.ImageTools;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mirror of a qcow2 node with a backing chain, as libvirt drives storage migration: sync top
 * onto a pre-created overlay whose backing already holds the base copies only the top layer, and
 * the target then reads exactly what the source reads; sync full copies everything.
 */
class MirrorQcow2Test {
    private static final String IMG = "/usr/bin/qemu-img";
    private static final String IO = "/usr/bin/qemu-io";
    private static final long SIZE = 4L << 20;

    @TempDir
    Path dir;

    private static String run(String... cmd) throws Exception {
        String out = ImageTools.run(cmd);
        assertThat(out).doesNotContain("failed");
        return out;
    }

    private static void io(Path img, String... commands) throws Exception {
        ImageTools.io(img, commands);
    }

    /** base (all data) <- top (two written ranges); the destination: a copy of base <- empty overlay. */
    private Path[] chains() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of(IMG)) && Files.isExecutable(Path.of(IO)),
                "qemu-img/qemu-io not installed: qcow2 mirror test skipped");
        Path base = dir.resolve("base.qcow2");
        Path top = dir.resolve("top.qcow2");
        Path dstBase = dir.resolve("dst-base.qcow2");
        Path dst = dir.resolve("dst.qcow2");
        run(IMG, "create", "-q", "-f", "qcow2", base.toString(), Long.toString(SIZE));
        io(base, "write -P 0x41 0 4M");
        run(IMG, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top.toString());
        io(top, "write -P 0x42 1M 128k", "write -P 0x43 3M 64k");
        Files.copy(base, dstBase);
        run(IMG, "create", "-q", "-f", "qcow2", "-b", "dst-base.qcow2", "-F", "qcow2", dst.toString());
        return new Path[] {top, dst};
    }

    private void mirror(Path src, Path dst, String sync) throws Exception {
        try (MirrorFixture f = new MirrorFixture(dir)) {
            f.qmp("blockdev-add", "{'driver':'qcow2','node-name':'src','file':{'driver':'file','filename':'" + src
                    + "'}}");
            f.qmp("blockdev-add", "{'driver':'qcow2','node-name':'tgt','file':{'driver':'file','filename':'" + dst
                    + "'}}");
            f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'" + sync + "'}");
            f.events.await("BLOCK_JOB_READY", "m");
            f.qmp("job-complete", "{'id':'m'}");
            f.events.awaitStatus("m", "null");
            assertThat(MirrorFixture.readAll(f.node("tgt"))).isEqualTo(MirrorFixture.readAll(f.node("src")));
            f.qmp("blockdev-del", "{'node-name':'tgt'}");
            f.qmp("blockdev-del", "{'node-name':'src'}");
        }
        String check = run(IMG, "check", dst.toString());
        assertThat(check).contains("No errors were found on the image.").doesNotContain("leaked");
    }

    @Test
    void syncTopCopiesTheTopLayerOntoAnOverlayWhoseBackingHoldsTheBase() throws Exception {
        Path[] p = chains();
        mirror(p[0], p[1], "top");
        String map = run(IMG, "map", "--output=json", p[1].toString());
        // only the two top-layer ranges were written into the destination overlay (depth 0)
        long allocated = 0;
        for (var e : MirrorFixture.JSON.readTree(map)) {
            if (e.path("depth").asInt() == 0 && e.path("data").asBoolean()) {
                allocated += e.path("length").asLong();
            }
        }
        assertThat(allocated).isEqualTo((128 << 10) + (64 << 10));
        assertThat(run(IMG, "compare", "-f", "qcow2", "-F", "qcow2", p[0].toString(), p[1].toString()))
                .contains("Images are identical");
    }

    @Test
    void syncFullCopiesEverything() throws Exception {
        Path[] p = chains();
        mirror(p[0], p[1], "full");
        assertThat(run(IMG, "compare", "-f", "qcow2", "-F", "qcow2", p[0].toString(), p[1].toString()))
                .contains("Images are identical");
    }
}
