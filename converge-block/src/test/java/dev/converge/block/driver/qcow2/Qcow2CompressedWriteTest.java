package dev.converge.block.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.block.BlockIOException;
import dev.converge.block.Errno;
import dev.converge.block.ReqFlag;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Compressed cluster writes against the reference tools: images converge wrote compressed pass
 * {@code qemu-img check} (no errors, no leaks, the clusters counted as compressed), read back
 * identically with qemu-img and qemu-io, and follow QEMU's rules (whole clusters, never over an
 * allocated cluster, plain when the data does not shrink); overwriting or discarding compressed
 * clusters later drops the references of the host clusters they shared.
 */
@Tag("integration")
class Qcow2CompressedWriteTest {
    private static final Set<ReqFlag> COMPRESSED = Set.of(ReqFlag.WRITE_COMPRESSED);

    @TempDir
    Path dir;

    @BeforeEach
    void peers() {
        QemuTools.assumeInstalled();
    }

    /** Cluster {@code i}'s contents: compressible patterns, text, zeroes, or random bytes (every fourth). */
    private static byte[] clusterData(int i, int clusterSize, Random r) {
        byte[] b = new byte[clusterSize];
        switch (i % 4) {
            case 0 -> {
                for (int k = 0; k < b.length; k += 512) {
                    Arrays.fill(b, k, Math.min(b.length, k + 512), (byte) r.nextInt(4));
                }
            }
            case 1 -> {
                byte[] t = ("cluster " + i + " of a compressed qcow2 image; ").getBytes(StandardCharsets.US_ASCII);
                for (int k = 0; k < b.length; k++) {
                    b[k] = t[k % t.length];
                }
            }
            case 2 -> {
                // zeroes
            }
            default -> r.nextBytes(b);
        }
        return b;
    }

    private static JsonNode checkJson(Path img) throws Exception {
        return Qcow2Fixture.JSON.readTree(QemuTools.ok(QemuTools.QEMU_IMG.toString(), "check", "--output=json",
                img.toString()));
    }

    private static void writeCompressed(Qcow2Node n, Arena a, long off, byte[] data) throws BlockIOException {
        n.write(off, a.allocate(data.length).copyFrom(MemorySegment.ofArray(data)), COMPRESSED);
    }

    @ParameterizedTest
    @ValueSource(strings = {"compat=0.10", "compat=1.1", "compat=1.1,cluster_size=4096", "compat=1.1,extended_l2=on",
            "compat=1.1,refcount_bits=1", "compat=1.1,cluster_size=512,refcount_bits=64", "compat=1.1,cluster_size=2M"})
    void imagesWrittenCompressedPassCheckAndReadBack(String options) throws Exception {
        Path img = dir.resolve("c.qcow2");
        Qcow2Node probe;
        long size;
        int clusterSize;
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            // a size that is not a multiple of the cluster: the tail cluster is compressed too
            QemuTools.create(img, options, (8L << 20) + 1536);
            probe = f.qcow2("c", img, false);
            size = probe.size();
            clusterSize = (int) probe.clusterSize();
            f.del("c");
        }
        byte[] model = new byte[(int) size];
        Random r = new Random(options.hashCode());
        int clusters = (int) ((size + clusterSize - 1) / clusterSize);
        int randomClusters = 0;
        try (Qcow2Fixture f = new Qcow2Fixture(); Arena a = Arena.ofConfined()) {
            Qcow2Node n = f.qcow2("c", img, false);
            assertThat(n.supportsCompressedWrites()).isTrue();
            // requests of one to four clusters
            for (int i = 0; i < clusters;) {
                int k = Math.min(clusters - i, 1 + r.nextInt(4));
                long off = (long) i * clusterSize;
                int len = (int) Math.min((long) k * clusterSize, size - off);
                byte[] w = new byte[len];
                for (int c = 0; c < k; c++) {
                    byte[] cd = clusterData(i + c, clusterSize, r);
                    System.arraycopy(cd, 0, w, c * clusterSize, Math.min(clusterSize, len - c * clusterSize));
                    randomClusters += (i + c) % 4 == 3 ? 1 : 0;
                }
                writeCompressed(n, a, off, w);
                System.arraycopy(w, 0, model, (int) off, len);
                i += k;
            }
            assertThat(Arrays.equals(Qcow2Fixture.readAll(n), model)).as("converge reads back").isTrue();
            f.del("c");
        }
        QemuTools.checkClean(img);
        JsonNode check = checkJson(img);
        assertThat(check.path("compressed-clusters").asInt()).as("qemu-img check counts them compressed")
                .isEqualTo(clusters - randomClusters);
        assertThat(Arrays.equals(QemuTools.contents(img, dir), model)).as("qemu-img convert reads back").isTrue();
        // qemu-io reads a text cluster and a zero cluster with their patterns
        QemuTools.io(img, "read -P 0 " + 2L * clusterSize + " " + clusterSize);
        // compressed clusters are data without a plain host offset in qemu-img map (7.2 has no
        // "compressed" member); the random ones have one
        JsonNode map = Qcow2Fixture.JSON.readTree(QemuTools.ok(QemuTools.QEMU_IMG.toString(), "map", "--output=json",
                img.toString()));
        long noOffset = 0;
        for (JsonNode e : map) {
            if (e.path("data").asBoolean() && !e.has("offset")) {
                noOffset += e.path("length").asLong();
            }
        }
        long compressedBytes = size - (long) randomClusters * clusterSize;
        assertThat(noOffset).as("bytes mapped as compressed").isBetween(compressedBytes, compressedBytes + clusterSize);
        if (clusterSize == 65536 && !options.contains("refcount_bits=1")) {
            assertThat(Files.size(img)).as("compressed data shares host clusters").isLessThan(size * 3 / 4);
        }
    }

    @Test
    void refusesWhatQemuRefuses() throws Exception {
        Path img = dir.resolve("r.qcow2");
        QemuTools.create(img, "compat=1.1", 4L << 20);
        byte[] cl = new byte[65536];
        Arrays.fill(cl, (byte) 3);
        try (Qcow2Fixture f = new Qcow2Fixture(); Arena a = Arena.ofConfined()) {
            Qcow2Node n = f.qcow2("r", img, false);
            assertThatThrownBy(() -> writeCompressed(n, a, 512, cl)).isInstanceOf(BlockIOException.class)
                    .hasMessageContaining("cluster boundary").extracting(e -> ((BlockIOException) e).errno())
                    .isEqualTo(Errno.EINVAL.code());
            assertThatThrownBy(() -> writeCompressed(n, a, 0, Arrays.copyOf(cl, 4096)))
                    .isInstanceOf(BlockIOException.class).hasMessageContaining("whole clusters");
            n.write(65536, a.allocate(4096)); // a normal cluster
            assertThatThrownBy(() -> writeCompressed(n, a, 65536, cl)).isInstanceOf(BlockIOException.class)
                    .hasMessageContaining("already allocated").extracting(e -> ((BlockIOException) e).errno())
                    .isEqualTo(Errno.EIO.code());
            writeCompressed(n, a, 0, cl);
            assertThatThrownBy(() -> writeCompressed(n, a, 0, cl)).isInstanceOf(BlockIOException.class)
                    .hasMessageContaining("already allocated");
            // a zero cluster without host data takes it
            n.writeZeroes(131072, 65536, Set.of());
            writeCompressed(n, a, 131072, cl);
            f.del("r");
        }
        QemuTools.checkClean(img);
        QemuTools.io(img, "read -P 3 0 64k", "read -P 0 64k 64k", "read -P 3 128k 64k");
        assertThat(checkJson(img).path("compressed-clusters").asInt()).isEqualTo(2);
    }

    @Test
    void overwritingAndDiscardingCompressedClustersDropsTheirReferences() throws Exception {
        Path img = dir.resolve("o.qcow2");
        long size = 16L << 20;
        QemuTools.create(img, "compat=1.1", size);
        byte[] model = new byte[(int) size];
        Random r = new Random(11);
        try (Qcow2Fixture f = new Qcow2Fixture(); Arena a = Arena.ofConfined()) {
            Qcow2Node n = (Qcow2Node) f.add("{'driver':'qcow2','node-name':'o','discard':'unmap',"
                    + "'file':{'driver':'file','filename':'" + img + "'}}");
            for (int i = 0; i < 128; i++) {
                byte[] cd = clusterData(i % 2 == 0 ? 0 : 1, 65536, r); // compressible: many per host cluster
                writeCompressed(n, a, i * 65536L, cd);
                System.arraycopy(cd, 0, model, i * 65536, cd.length);
            }
            long compressedSize = Files.size(img);
            // partial writes into compressed clusters make them normal clusters
            for (int i = 0; i < 40; i++) {
                int len = 1 + r.nextInt(100_000);
                long off = r.nextLong((8L << 20) - len);
                byte[] w = new byte[len];
                r.nextBytes(w);
                n.write(off, a.allocate(len).copyFrom(MemorySegment.ofArray(w)));
                System.arraycopy(w, 0, model, (int) off, len);
            }
            // discard and zero whole compressed clusters, then compress into them again (the
            // host cluster being filled may have been freed meanwhile)
            n.discard(4L << 20, 2L << 20);
            n.writeZeroes(4L << 20, 2L << 20, Set.of());
            Arrays.fill(model, 4 << 20, 6 << 20, (byte) 0);
            n.writeZeroes(6L << 20, 1L << 20, Set.of(ReqFlag.MAY_UNMAP));
            Arrays.fill(model, 6 << 20, 7 << 20, (byte) 0);
            for (long off = 4L << 20; off < 7L << 20; off += 65536) {
                byte[] cd = clusterData(1, 65536, r);
                writeCompressed(n, a, off, cd);
                System.arraycopy(cd, 0, model, (int) off, cd.length);
            }
            assertThat(Arrays.equals(Qcow2Fixture.readAll(n), model)).isTrue();
            assertThat(compressedSize).isLessThan(size / 8);
            f.del("o");
        }
        QemuTools.checkClean(img);
        assertThat(Arrays.equals(QemuTools.contents(img, dir), model)).isTrue();
        // QEMU overwrites what converge compressed; still clean
        QemuTools.io(img, "write -P 0x77 8M 64k", "write -P 0x78 9M 1000");
        QemuTools.checkClean(img);
    }

    @Test
    void concurrentCompressedWritersShareHostClustersSafely() throws Exception {
        Path img = dir.resolve("p.qcow2");
        long size = 32L << 20;
        QemuTools.create(img, "compat=1.1", size);
        byte[] model = new byte[(int) size];
        int clusters = (int) (size >>> 16);
        for (int i = 0; i < clusters; i++) {
            byte[] cd = clusterData(i, 65536, new Random(i));
            System.arraycopy(cd, 0, model, i << 16, cd.length);
        }
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            Qcow2Node n = f.qcow2("p", img, false);
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int first = t;
                    done.add(pool.submit(() -> {
                        try (Arena a = Arena.ofConfined()) {
                            for (int i = first; i < clusters; i += 4) {
                                writeCompressed(n, a, (long) i << 16, Arrays.copyOfRange(model, i << 16, (i + 1) << 16));
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> d : done) {
                    d.get();
                }
            } finally {
                pool.shutdown();
            }
            f.del("p");
        }
        QemuTools.checkClean(img);
        assertThat(checkJson(img).path("compressed-clusters").asInt()).isEqualTo(clusters - clusters / 4);
        assertThat(Arrays.equals(QemuTools.contents(img, dir), model)).isTrue();
    }
}
