package dev.converge.nbd.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.block.BlockNode;
import dev.converge.nbd.client.NbdClient;
import dev.converge.nbd.client.NbdClientConfig;
import java.io.RandomAccessFile;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An export of a file node (the daemon's path: block-export-add over a file or raw node) read by our
 * client in large requests, which the server answers with sendfile: every byte equals the file's, across
 * data, a hole and the unaligned end of the image, also while the client writes in between and after
 * the export's node was replaced (a pivot).
 */
class ExportSendfileTest {
    private static final int SIZE = (6 << 20) + 1234;

    @TempDir
    Path dir;

    private static byte[] readAll(NbdClient c, int size, int chunk) throws Exception {
        byte[] out = new byte[size];
        for (int off = 0; off < size; off += chunk) {
            int n = Math.min(chunk, size - off);
            ByteBuffer b = ByteBuffer.allocateDirect(n);
            c.read(off, b);
            b.get(0, out, off, n); // the client fills the buffer without moving its position
        }
        return out;
    }

    @Test
    void largeReadsOfAFileExportAreTheFilesBytes() throws Exception {
        byte[] image = new byte[SIZE];
        new Random(11).nextBytes(image);
        Arrays.fill(image, 2 << 20, 4 << 20, (byte) 0);
        Path a = dir.resolve("a.raw");
        Files.write(a, image);
        try (RandomAccessFile f = new RandomAccessFile(a.toFile(), "rw")) {
            f.setLength(2 << 20); // a hole where the zeroes are
            f.setLength(SIZE);
            f.seek(4 << 20);
            f.write(image, 4 << 20, SIZE - (4 << 20));
        }
        byte[] other = new byte[SIZE];
        new Random(12).nextBytes(other);
        Files.write(dir.resolve("b.raw"), other);
        Path sock = dir.resolve("n.sock");
        try (NbdQmpFixture f = new NbdQmpFixture()) {
            f.exec("blockdev-add", "{'driver':'raw','node-name':'a','file':{'driver':'file','filename':'" + a + "'}}");
            f.exec("blockdev-add", "{'driver':'file','node-name':'b','filename':'" + dir.resolve("b.raw") + "'}");
            f.exec("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + sock + "'}}}");
            f.exec("block-export-add", "{'type':'nbd','id':'e','node-name':'a','name':'disk','writable':true}");
            try (NbdClient c = new NbdClient(NbdClientConfig.of(UnixDomainSocketAddress.of(sock), "disk"))) {
                assertThat(readAll(c, SIZE, 1 << 20)).isEqualTo(image);
                assertThat(readAll(c, SIZE, 300_001)).as("unaligned requests").isEqualTo(image);

                byte[] w = new byte[500_000];
                new Random(13).nextBytes(w);
                c.write((2 << 20) - 100_000, ByteBuffer.wrap(w), false);
                System.arraycopy(w, 0, image, (2 << 20) - 100_000, w.length);
                assertThat(readAll(c, SIZE, 1 << 20)).as("after a write into data and hole").isEqualTo(image);

                f.qmp.mainLoop().call(() -> {
                    BlockNode from = f.graph.find("a").orElseThrow();
                    f.graph.replaceNode(from, f.graph.find("b").orElseThrow());
                    return null;
                });
                assertThat(readAll(c, SIZE, 1 << 20)).as("the replacement's bytes").isEqualTo(other);
            }
        }
    }
}
