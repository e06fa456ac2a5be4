package dev.converge.block.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cluster codec: raw deflate that inflates with QEMU's 4 KiB window, or -1 when it does not shrink. */
class ClusterDeflateTest {
    private static final int CLUSTER = 65536;

    @TempDir
    Path dir;

    /**
     * Data that compresses within 4 KiB (each 2 KiB of random bytes appears twice in a row) and
     * repeats every 8 KiB: a 32 KiB-window deflater refers back 6-8 KiB for the repeats.
     */
    private static byte[] farRepeats() {
        Random r = new Random(5);
        byte[] unit = new byte[8192];
        for (int half = 0; half < 2; half++) {
            byte[] part = new byte[2048];
            r.nextBytes(part);
            System.arraycopy(part, 0, unit, half * 4096, 2048);
            System.arraycopy(part, 0, unit, half * 4096 + 2048, 2048);
        }
        byte[] in = new byte[CLUSTER];
        for (int i = 0; i < in.length; i += unit.length) {
            System.arraycopy(unit, 0, in, i, unit.length);
        }
        return in;
    }

    private static byte[] inflate(byte[] stream, int len, int expect) throws DataFormatException {
        Inflater inf = new Inflater(true);
        try {
            inf.setInput(stream, 0, len);
            byte[] out = new byte[expect];
            int got = inf.inflate(out);
            assertThat(inf.finished()).as("stream ends").isTrue();
            return Arrays.copyOf(out, got);
        } finally {
            inf.end();
        }
    }

    @Test
    void compressibleClustersRoundTrip() throws Exception {
        ClusterDeflate d = new ClusterDeflate();
        try {
            byte[] zeroes = new byte[CLUSTER];
            int n = d.deflate(zeroes, CLUSTER, CLUSTER - 1);
            assertThat(n).isPositive().isLessThan(1024);
            assertThat(inflate(d.output(), n, CLUSTER)).isEqualTo(zeroes);

            byte[] text = "qcow2 compressed clusters. ".repeat(3000).substring(0, CLUSTER).getBytes(StandardCharsets.US_ASCII);
            n = d.deflate(text, CLUSTER, CLUSTER - 1);
            assertThat(n).isPositive().isLessThan(CLUSTER / 4);
            assertThat(inflate(d.output(), n, CLUSTER)).isEqualTo(text);
        } finally {
            d.end();
        }
    }

    @Test
    void incompressibleDataDoesNotFit() {
        byte[] random = new byte[CLUSTER];
        new Random(1).nextBytes(random);
        ClusterDeflate d = new ClusterDeflate();
        try {
            assertThat(d.deflate(random, CLUSTER, CLUSTER - 1)).isEqualTo(-1);
            // a limit only just below the compressed size also refuses
            byte[] text = new byte[CLUSTER];
            Arrays.fill(text, 0, CLUSTER / 2, (byte) 7);
            System.arraycopy(random, 0, text, CLUSTER / 2, CLUSTER / 2);
            int n = d.deflate(text, CLUSTER, CLUSTER - 1);
            assertThat(n).isPositive();
            assertThat(d.deflate(text, CLUSTER, n - 1)).isEqualTo(-1);
            assertThat(d.deflate(text, CLUSTER, n)).isEqualTo(n);
        } finally {
            d.end();
        }
    }

    /**
     * The stream inflates with windowBits -12 when the inflater may only use its window (one
     * output byte per call, as a streaming reader would): checked with the system zlib through
     * python3; a plain 32 KiB-window deflate of the same data fails there, so the check bites.
     */
    @Test
    @Tag("integration")
    void inflatesWithQemusFourKibWindow() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")),
                "python3 (zlib with windowBits -12) not installed: window check skipped");
        byte[] in = farRepeats();
        ClusterDeflate d = new ClusterDeflate();
        byte[] ours;
        try {
            int n = d.deflate(in, CLUSTER, CLUSTER - 1);
            assertThat(n).isPositive();
            ours = Arrays.copyOf(d.output(), n);
        } finally {
            d.end();
        }
        assertThat(inflate4k(ours)).as("ours inflates with a 4 KiB window").isEqualTo(in);

        Deflater plain = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
        byte[] buf = new byte[2 * CLUSTER];
        plain.setInput(in);
        plain.finish();
        int pn = plain.deflate(buf);
        plain.end();
        assertThat(inflate4k(Arrays.copyOf(buf, pn))).as("a 32 KiB-window stream does not").isNull();
    }

    /** What zlib with windowBits -12 inflates the stream to, one byte per call; null when it fails. */
    private byte[] inflate4k(byte[] stream) throws IOException, InterruptedException {
        Path src = Files.write(Files.createTempFile(dir, "stream", ".deflate"), stream);
        Path out = dir.resolve("out-" + System.nanoTime());
        String script = String.join("\n",
                "import sys, zlib",
                "data = open(sys.argv[1], 'rb').read()",
                "d = zlib.decompressobj(-12)",
                "out = bytearray()",
                "while not d.eof:",
                "    chunk = d.decompress(data, 1)",
                "    data = d.unconsumed_tail",
                "    if not chunk and not data:",
                "        break",
                "    out += chunk",
                "open(sys.argv[2], 'wb').write(out)");
        Process p = new ProcessBuilder("/usr/bin/python3", "-c", script, src.toString(), out.toString())
                .redirectErrorStream(true).start();
        String msg = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            assertThat(msg).contains("invalid distance too far back");
            return null;
        }
        return Files.readAllBytes(out);
    }
}
