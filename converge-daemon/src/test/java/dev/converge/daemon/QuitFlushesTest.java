package dev.converge.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.block.BlockNode;
import dev.converge.block.qmp.BlockQmp;
import dev.converge.qmp.sockets.SocketAddress;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * quit flushes every block node (QEMU's bdrv_flush_all): a qcow2 node's allocations live in its
 * write-back L2 cache until then, and were lost when the daemon stopped without it.
 */
@Tag("integration")
class QuitFlushesTest {
    @TempDir
    Path dir;

    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as("%s: %s", List.of(cmd), out).isZero();
        return out;
    }

    @Test
    void aQcow2WriteSurvivesQuit() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/qemu-img"))
                && Files.isExecutable(Path.of("/usr/bin/qemu-io")), "qemu-img/qemu-io not installed: skipped");
        Path img = dir.resolve("disk.qcow2");
        run("/usr/bin/qemu-img", "create", "-q", "-f", "qcow2", img.toString(), "16M");
        byte[] data = new byte[65536];
        Arrays.fill(data, (byte) 0x5a);
        Daemon daemon = Daemon.start(new DaemonConfig(List.of(SocketAddress.parse("unix:" + dir.resolve("q.sock"))),
                List.of()));
        try {
            BlockNode n = daemon.mainLoop().call(() -> daemon.blockGraph().blockdevAdd(BlockQmp.parseBlockdevJson(
                    "{\"driver\":\"qcow2\",\"node-name\":\"d\",\"file\":{\"driver\":\"file\",\"filename\":\"" + img
                            + "\"}}")));
            n.write(1 << 20, MemorySegment.ofArray(data));
        } finally {
            daemon.close();
        }
        String out = run("/usr/bin/qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 1M 64k", img.toString());
        assertThat(out).doesNotContain("Pattern verification failed").contains("read 65536/65536 bytes");
        assertThat(run("/usr/bin/qemu-img", "check", img.toString())).contains("No errors were found");
    }
}
