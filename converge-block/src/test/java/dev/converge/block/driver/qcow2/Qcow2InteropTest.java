package dev.converge.block.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.block.Extent;
import dev.converge.block.ReqFlag;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * qcow2 against the reference tools: images qemu-img/qemu-io wrote read identically here, and
 * images converge wrote pass {@code qemu-img check} and read identically with qemu-img.
 */
class Qcow2InteropTest {
    private static final long SIZE = 8L << 20;

    @TempDir
    Path dir;

    @BeforeEach
    void peers() {
        QemuTools.assumeInstalled();
    }

    @ParameterizedTest
    @ValueSource(strings = {"compat=0.10", "compat=1.1", "compat=1.1,cluster_size=4096", "compat=1.1,extended_l2=on",
            "compat=1.1,refcount_bits=1", "compat=1.1,refcount_bits=64,cluster_size=512",
            "compat=1.1,cluster_size=2M", "compat=1.1,lazy_refcounts=on,cluster_size=16k,extended_l2=on"})
    void readsWhatQemuWrote(String options) throws Exception {
        Path img = dir.resolve("q.qcow2");
        QemuTools.create(img, options, SIZE);
        QemuTools.io(img, "write -P 0x11 0 1M", "write -P 0x22 1536k 4k", "write -P 0x23 1600k 700",
                "write -z 2M 128k", "write -P 0x33 3M 1M", "discard 3M 64k", "write -z 3200k 8k",
                "write -P 0x44 7M 100k");
        byte[] expected = QemuTools.contents(img, dir);
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            Qcow2Node n = f.qcow2("q", img, true);
            assertThat(n.size()).isEqualTo(SIZE);
            assertThat(Arrays.equals(Qcow2Fixture.readAll(n), expected)).as("contents of " + options).isTrue();
            // unaligned reads across cluster and subcluster boundaries
            try (Arena a = Arena.ofConfined()) {
                Random r = new Random(7);
                for (int i = 0; i < 200; i++) {
                    int len = 1 + r.nextInt(200_000);
                    long off = r.nextLong(SIZE - len);
                    MemorySegment buf = a.allocate(len);
                    n.read(off, buf);
                    assertThat(buf.toArray(ValueLayout.JAVA_BYTE))
                            .isEqualTo(Arrays.copyOfRange(expected, (int) off, (int) off + len));
                }
            }
            // block status: DATA only where bytes may be non-zero; nothing claims zero where data is
            for (Extent e : n.blockStatus(0, SIZE)) {
                if (e.isZero()) {
                    for (long p = e.offset(); p < e.end(); p++) {
                        assertThat(expected[(int) p]).as("zero extent at %d", p).isZero();
                    }
                }
            }
            assertThat(n.blockStatus(0, 1 << 20)).containsExactly(new Extent(0, 1 << 20,
                    Extent.DATA | Extent.ALLOCATED));
            assertThat(n.blockStatus(5L << 20, 1 << 20).getFirst().isAllocated()).isFalse();
        }
    }

    @Test
    void readsCompressedClustersAndRewritesThem() throws Exception {
        Path raw = dir.resolve("src.raw");
        byte[] data = new byte[(int) SIZE];
        Random r = new Random(3);
        for (int i = 0; i < data.length; i += 512) {
            byte v = (byte) r.nextInt(4); // compressible, not trivially
            Arrays.fill(data, i, i + 512, v);
        }
        Files.write(raw, data);
        Path img = dir.resolve("c.qcow2");
        QemuTools.ok(QemuTools.QEMU_IMG.toString(), "convert", "-c", "-f", "raw", "-O", "qcow2", raw.toString(),
                img.toString());
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            Qcow2Node n = f.qcow2("c", img, false);
            assertThat(Arrays.equals(Qcow2Fixture.readAll(n), data)).isTrue();
            // partial writes into compressed clusters rewrite them (copy-on-write of the rest)
            try (Arena a = Arena.ofConfined()) {
                for (int i = 0; i < 50; i++) {
                    int len = 1 + r.nextInt(100_000);
                    long off = r.nextLong(SIZE - len);
                    byte[] w = new byte[len];
                    r.nextBytes(w);
                    n.write(off, a.allocate(len).copyFrom(MemorySegment.ofArray(w)));
                    System.arraycopy(w, 0, data, (int) off, len);
                }
            }
            assertThat(Arrays.equals(Qcow2Fixture.readAll(n), data)).isTrue();
            f.del("c");
        }
        QemuTools.checkClean(img);
        assertThat(Arrays.equals(QemuTools.contents(img, dir), data)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"compat=0.10", "compat=1.1", "compat=1.1,cluster_size=4096", "compat=1.1,extended_l2=on",
            "compat=1.1,refcount_bits=1,cluster_size=512", "compat=1.1,refcount_bits=64",
            "compat=1.1,lazy_refcounts=on"})
    void writesWhatQemuReads(String options) throws Exception {
        Path img = dir.resolve("w.qcow2");
        QemuTools.create(img, options, SIZE);
        QemuTools.io(img, "write -P 0x55 1M 3M"); // some clusters allocated by QEMU first
        byte[] model = QemuTools.contents(img, dir);
        Random r = new Random(options.hashCode());
        try (Qcow2Fixture f = new Qcow2Fixture(); Arena a = Arena.ofConfined()) {
            Qcow2Node n = (Qcow2Node) f.add("{'driver':'qcow2','node-name':'w','discard':'unmap',"
                    + "'file':{'driver':'file','filename':'" + img + "'}}");
            for (int i = 0; i < 300; i++) {
                int len = 1 + r.nextInt(i % 10 == 0 ? 2_000_000 : 70_000);
                long off = r.nextLong(SIZE - len);
                switch (r.nextInt(6)) {
                    case 0 -> {
                        n.writeZeroes(off, len, r.nextBoolean() ? Set.of(ReqFlag.MAY_UNMAP) : Set.of());
                        Arrays.fill(model, (int) off, (int) off + len, (byte) 0);
                    }
                    case 1 -> {
                        // discard leaves the range undefined: zero it afterwards for the model
                        n.discard(off, len);
                        n.writeZeroes(off, len, Set.of());
                        Arrays.fill(model, (int) off, (int) off + len, (byte) 0);
                    }
                    default -> {
                        byte[] w = new byte[len];
                        r.nextBytes(w);
                        n.write(off, a.allocate(len).copyFrom(MemorySegment.ofArray(w)));
                        System.arraycopy(w, 0, model, (int) off, len);
                    }
                }
            }
            assertThat(Arrays.equals(Qcow2Fixture.readAll(n), model)).isTrue();
            f.del("w");
        }
        QemuTools.checkClean(img);
        assertThat(Arrays.equals(QemuTools.contents(img, dir), model)).as("qemu-img reads what we wrote").isTrue();
    }

    @Test
    void growsTheRefcountTableOfASmallClusterImage() throws Exception {
        // 512-byte clusters with 64-bit refcounts: one refcount block covers 64 clusters, the
        // initial table fills quickly and must grow several times
        Path img = dir.resolve("g.qcow2");
        QemuTools.create(img, "compat=1.1,cluster_size=512,refcount_bits=64", 64L << 20);
        byte[] w = new byte[4 << 20];
        new Random(1).nextBytes(w);
        try (Qcow2Fixture f = new Qcow2Fixture(); Arena a = Arena.ofConfined()) {
            Qcow2Node n = f.qcow2("g", img, false);
            n.write(0, a.allocate(w.length).copyFrom(MemorySegment.ofArray(w)));
            n.write(40L << 20, a.allocate(w.length).copyFrom(MemorySegment.ofArray(w)));
            f.del("g");
        }
        QemuTools.checkClean(img);
        byte[] c = QemuTools.contents(img, dir);
        assertThat(Arrays.equals(Arrays.copyOfRange(c, 0, w.length), w)).isTrue();
        assertThat(Arrays.equals(Arrays.copyOfRange(c, 40 << 20, (40 << 20) + w.length), w)).isTrue();
    }

    @Test
    void backingChainReadsFallThroughAndWritesCopyOnWrite() throws Exception {
        Path base = dir.resolve("base.qcow2");
        Path mid = dir.resolve("mid.qcow2");
        Path top = dir.resolve("top.qcow2");
        QemuTools.create(base, "compat=1.1", SIZE);
        QemuTools.io(base, "write -P 0x61 0 8M");
        QemuTools.ok(QemuTools.QEMU_IMG.toString(), "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
                mid.toString());
        QemuTools.io(mid, "write -P 0x62 1M 1M", "write -z 3M 64k");
        QemuTools.ok(QemuTools.QEMU_IMG.toString(), "create", "-q", "-f", "qcow2", "-b", mid.toString(), "-F", "qcow2",
                "-o", "cluster_size=4096", top.toString());
        QemuTools.io(top, "write -P 0x63 1500k 10k");
        byte[] model = QemuTools.contents(top, dir);
        try (Qcow2Fixture f = new Qcow2Fixture(); Arena a = Arena.ofConfined()) {
            Qcow2Node n = f.qcow2("top", top, false);
            assertThat(n.backingNode()).isPresent();
            assertThat(((Qcow2Node) n.backingNode().get()).backingNode()).isPresent();
            assertThat(Arrays.equals(Qcow2Fixture.readAll(n), model)).isTrue();
            List<Extent> st = n.blockStatus(0, 1 << 20);
            assertThat(st).allMatch(e -> !e.isAllocated() && e.isData());
            byte[] w = new byte[1000];
            Arrays.fill(w, (byte) 0x64);
            n.write(2_000_100, a.allocate(w.length).copyFrom(MemorySegment.ofArray(w)));
            System.arraycopy(w, 0, model, 2_000_100, w.length);
            assertThat(Arrays.equals(Qcow2Fixture.readAll(n), model)).isTrue();
            f.del("top");
        }
        QemuTools.checkClean(top);
        QemuTools.checkClean(mid);
        assertThat(Arrays.equals(QemuTools.contents(top, dir), model)).isTrue();
    }

    /**
     * Allocating writes from several threads at once (they move their data outside the metadata
     * lock): in the first half of an overlay each thread writes its own slice of every cluster,
     * in its own order, so the threads meet on the same fresh clusters (partial writes with
     * copy-on-write from the backing image); in the second half each thread writes whole
     * clusters of its own quarter, several per request. Every byte ends as the model says, and
     * qemu-img reads the same and finds no error or leak.
     */
    @ParameterizedTest
    @ValueSource(strings = {"compat=1.1", "compat=1.1,cluster_size=4096", "compat=0.10"})
    void parallelAllocatingWritesKeepEveryByte(String options) throws Exception {
        Path base = dir.resolve("base.qcow2");
        Path top = dir.resolve("top.qcow2");
        QemuTools.create(base, "compat=1.1", SIZE);
        QemuTools.io(base, "write -P 0x41 0 8M");
        QemuTools.ok(QemuTools.QEMU_IMG.toString(), "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
                "-o", options, top.toString());
        byte[] model = QemuTools.contents(top, dir);
        int threads = 4;
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            Qcow2Node n = f.qcow2("top", top, false);
            int cluster = (int) n.clusterSize();
            int slice = cluster / threads;
            int shared = (int) (SIZE / 2 / cluster); // clusters every thread writes a slice of
            int own = shared / threads; // whole clusters per thread after them
            for (int id = 0; id < threads; id++) {
                for (int c = 0; c < shared; c++) {
                    Arrays.fill(model, c * cluster + id * slice, c * cluster + (id + 1) * slice, (byte) (0x50 + id));
                }
                int from = (shared + id * own) * cluster;
                Arrays.fill(model, from, from + own * cluster, (byte) (0x50 + id));
            }
            List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
            try (var pool = java.util.concurrent.Executors.newFixedThreadPool(threads)) {
                for (int t = 0; t < threads; t++) {
                    int id = t;
                    done.add(pool.submit(() -> {
                        List<Integer> order = new java.util.ArrayList<>();
                        for (int c = 0; c < shared; c++) {
                            order.add(c);
                        }
                        Random rnd = new Random(id);
                        java.util.Collections.shuffle(order, rnd);
                        try (Arena a = Arena.ofConfined()) {
                            MemorySegment buf = a.allocate(3L * cluster);
                            buf.fill((byte) (0x50 + id));
                            for (int c : order) {
                                n.write((long) c * cluster + (long) id * slice, buf.asSlice(0, slice));
                            }
                            for (int c = 0; c < own;) {
                                int k = Math.min(own - c, 1 + rnd.nextInt(3));
                                n.write((long) (shared + id * own + c) * cluster, buf.asSlice(0, (long) k * cluster));
                                c += k;
                            }
                        }
                        return null;
                    }));
                }
            }
            for (var d : done) {
                d.get();
            }
            assertThat(Arrays.equals(Qcow2Fixture.readAll(n), model)).isTrue();
            f.del("top");
        }
        QemuTools.checkClean(top);
        assertThat(Arrays.equals(QemuTools.contents(top, dir), model)).isTrue();
    }
}
