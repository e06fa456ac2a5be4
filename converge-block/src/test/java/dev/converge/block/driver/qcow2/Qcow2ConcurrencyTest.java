package dev.converge.block.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Requests of the qcow2 driver at the same time. Reads map without the metadata lock
 * (Qcow2Node.mapUnlocked): they run while allocating writes
 * set L2 entries, create L2 tables, and (with a cache smaller than the disk's L2 tables) evict
 * tables and reuse their memory for others. Every 8-byte word of the disk says which 512-byte
 * sector it belongs to and which write put it there (or the backing file), so a read that mapped
 * through a table half changed, or through memory that meanwhile held another table, shows a word
 * of another sector, or zeroes; the test asserts every word read is the sector's own, from the
 * backing file or from a write that had started. Writers own disjoint 1 MiB stripes, so the end
 * state is known: it is compared byte for byte, here and as qemu-img reads it, and qemu-img check
 * finds no error or leak.
 */
@Tag("integration")
class Qcow2ConcurrencyTest {
    private static final long SIZE = 64L << 20;
    private static final int SECTOR = 512;
    private static final long STRIPE = 1L << 20;
    private static final int WRITERS = 3;
    private static final int READERS = 3;
    private static final int WRITES_PER_WRITER = 1500;
    /** Marks a valid word: zeroes (a hole where data should be) never pass. */
    private static final long TAG = 1L << 62;

    @TempDir
    Path dir;

    @BeforeEach
    void peers() {
        QemuTools.assumeInstalled();
    }

    /** The word every 8 bytes of {@code sector} hold after the write numbered {@code gen} (0: the backing file). */
    static long word(long sector, long gen) {
        return TAG | (sector << 24) | gen;
    }

    @ParameterizedTest
    @ValueSource(strings = {"compat=1.1,cluster_size=4096", "compat=1.1,extended_l2=on", "compat=0.10,cluster_size=8192"})
    void readsSeeOldOrNewDataNeverGarbage(String options) throws Exception {
        Path base = dir.resolve("base.raw");
        Path top = dir.resolve("top.qcow2");
        long[] model = new long[(int) (SIZE / SECTOR)]; // generation of each sector
        try (FileChannel ch = FileChannel.open(base, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(STRIPE, 4096);
            for (long off = 0; off < SIZE; off += STRIPE) {
                fill(buf, off, 0);
                ch.write(buf.asByteBuffer(), off);
            }
        }
        QemuTools.ok(QemuTools.QEMU_IMG.toString(), "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "raw",
                "-o", options, top.toString());
        AtomicLong generations = new AtomicLong();
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicLong reads = new AtomicLong();
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            // the smallest L2 cache (16 tables): 4 KiB clusters need 32 tables for 64 MiB, so tables are
            // evicted and their memory reused while readers map through them
            Qcow2Node n = (Qcow2Node) f.add("{'driver':'qcow2','node-name':'top','l2-cache-size':4096,"
                    + "'file':{'driver':'file','filename':'" + top + "'}}");
            List<Future<?>> writers = new ArrayList<>();
            List<Future<?>> readers = new ArrayList<>();
            try (ExecutorService pool = Executors.newFixedThreadPool(WRITERS + READERS)) {
                for (int w = 0; w < WRITERS; w++) {
                    int id = w;
                    writers.add(pool.submit(() -> write(n, id, generations, model)));
                }
                for (int r = 0; r < READERS; r++) {
                    int seed = 100 + r;
                    readers.add(pool.submit(() -> read(n, seed, generations, writing, reads)));
                }
                for (Future<?> w : writers) {
                    w.get();
                }
                writing.set(false);
                for (Future<?> r : readers) {
                    r.get();
                }
            }
            assertThat(reads.get()).as("reads made while writing").isGreaterThan(0);
            if (n.clusterSize() == 4096) {
                assertThat(n.l2CacheCounters()[1]).as("L2 cache misses (evictions)").isGreaterThan(32);
            }
            byte[] expected = expected(model);
            assertThat(Arrays.equals(Qcow2Fixture.readAll(n), expected)).as("contents after the writes").isTrue();
            f.del("top");
            QemuTools.checkClean(top);
            assertThat(Arrays.equals(QemuTools.contents(top, dir), expected)).as("contents as qemu-img reads them")
                    .isTrue();
        }
    }

    /**
     * Extended L2: a write into the unallocated subclusters of a cluster that has allocated ones
     * rewrites that cluster in place under the metadata lock, while in-place writes into its
     * allocated subclusters go on without the lock. One thread writes into the allocated first
     * half of the cluster the other is allocating in, again and again; none of its writes may be
     * lost (the allocation used to write the whole cluster back with what it had read before).
     */
    @Test
    void inPlaceWritesSurviveSubclusterAllocationsInTheSameCluster() throws Exception {
        Path img = dir.resolve("sub.qcow2");
        long size = 8L << 20;
        int cluster = 16 << 10; // 512-byte subclusters
        QemuTools.create(img, "compat=1.1,extended_l2=on,cluster_size=16k", size);
        List<String> halves = new ArrayList<>();
        for (long c = 0; c < size / cluster; c++) {
            halves.add("write -P 0x11 " + c * cluster + " " + cluster / 2);
        }
        QemuTools.io(img, halves.toArray(String[]::new));
        byte[] model = new byte[(int) size];
        for (long c = 0; c < size / cluster; c++) {
            Arrays.fill(model, (int) (c * cluster), (int) (c * cluster + cluster / 2), (byte) 0x11);
        }
        try (Qcow2Fixture f = new Qcow2Fixture()) {
            Qcow2Node n = f.qcow2("sub", img, false);
            AtomicLong current = new AtomicLong(-1); // the cluster being allocated; -2 when done
            AtomicLong inPlace = new AtomicLong();
            try (ExecutorService pool = Executors.newFixedThreadPool(2)) {
                Future<?> writer = pool.submit(() -> {
                    Random rnd = new Random(5);
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment buf = a.allocate(cluster / 2);
                        for (byte v = 0x20; current.get() != -2; v = (byte) (v == 0x7f ? 0x20 : v + 1)) {
                            long c = current.get();
                            if (c < 0) {
                                Thread.yield();
                                continue;
                            }
                            int len = 512 * (1 + rnd.nextInt(cluster / 2 / 512));
                            int at = 512 * rnd.nextInt((cluster / 2 - len) / 512 + 1);
                            buf.fill(v);
                            n.write(c * cluster + at, buf.asSlice(0, len));
                            Arrays.fill(model, (int) (c * cluster + at), (int) (c * cluster + at + len), v);
                            inPlace.incrementAndGet();
                        }
                    }
                    return null;
                });
                Random rnd = new Random(6);
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment buf = a.allocate(cluster / 2);
                    buf.fill((byte) 0x99);
                    for (long c = 0; c < size / cluster; c++) {
                        current.set(c);
                        int len = 512 * (1 + rnd.nextInt(4));
                        int at = cluster / 2 + 512 * rnd.nextInt((cluster / 2 - len) / 512 + 1);
                        long before = inPlace.get();
                        while (inPlace.get() - before < 2 && !writer.isDone()) {
                            Thread.yield(); // let the in-place writer get going in this cluster
                        }
                        n.write(c * cluster + at, buf.asSlice(0, len));
                        Arrays.fill(model, (int) (c * cluster + at), (int) (c * cluster + at + len), (byte) 0x99);
                    }
                } finally {
                    current.set(-2);
                }
                writer.get();
            }
            assertThat(Arrays.equals(Qcow2Fixture.readAll(n), model)).as("every write kept").isTrue();
            f.del("sub");
        }
        QemuTools.checkClean(img);
        assertThat(Arrays.equals(QemuTools.contents(img, dir), model)).as("as qemu-img reads it").isTrue();
    }

    /** Random writes inside the stripes writer {@code id} owns (stripe % WRITERS == id), each with a new generation. */
    private static Void write(Qcow2Node n, int id, AtomicLong generations, long[] model) throws Exception {
        Random rnd = new Random(id);
        long stripes = SIZE / STRIPE;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(128 << 10, 4096);
            for (int i = 0; i < WRITES_PER_WRITER; i++) {
                long stripe = id + (long) WRITERS * rnd.nextLong((stripes - id + WRITERS - 1) / WRITERS);
                long sectors = 1 + rnd.nextInt(rnd.nextBoolean() ? 8 : 256);
                long first = stripe * (STRIPE / SECTOR) + rnd.nextLong(STRIPE / SECTOR);
                long end = Math.min(first + sectors, (stripe + 1) * (STRIPE / SECTOR));
                long gen = generations.incrementAndGet();
                MemorySegment part = buf.asSlice(0, (end - first) * SECTOR);
                fill(part, first * SECTOR, gen);
                n.write(first * SECTOR, part);
                for (long s = first; s < end; s++) {
                    model[(int) s] = gen; // this stripe is ours alone
                }
            }
        }
        return null;
    }

    /** Random reads anywhere until the writers are done; every word must be its sector's, of a generation already begun. */
    private static Void read(Qcow2Node n, int seed, AtomicLong generations, AtomicBoolean writing, AtomicLong reads)
            throws Exception {
        Random rnd = new Random(seed);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(256 << 10, 4096);
            while (writing.get()) {
                long sectors = 1 + rnd.nextInt(rnd.nextBoolean() ? 8 : 512);
                long first = rnd.nextLong(SIZE / SECTOR - sectors);
                MemorySegment part = buf.asSlice(0, sectors * SECTOR);
                n.read(first * SECTOR, part);
                long begun = generations.get(); // read after the data: every generation seen has begun
                for (long w = 0; w < part.byteSize() / 8; w++) {
                    long v = part.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, w);
                    long sector = first + w * 8 / SECTOR;
                    long gen = v & ((1L << 24) - 1);
                    if (v != word(sector, gen) || gen > begun) {
                        throw new AssertionError("word " + w + " of the read of sector " + first + " (" + sectors
                                + " sectors) is 0x" + Long.toHexString(v) + ": not sector " + sector
                                + "'s from the backing file or a write begun (" + begun + " begun)");
                    }
                }
                reads.incrementAndGet();
            }
        }
        return null;
    }

    /** Fills {@code buf} with the words of the sectors from byte {@code off}, generation {@code gen}. */
    private static void fill(MemorySegment buf, long off, long gen) {
        for (long w = 0; w < buf.byteSize() / 8; w++) {
            buf.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, w, word((off + w * 8) / SECTOR, gen));
        }
    }

    private static byte[] expected(long[] model) {
        byte[] out = new byte[(int) SIZE];
        MemorySegment seg = MemorySegment.ofArray(out);
        for (int s = 0; s < model.length; s++) {
            long v = word(s, model[s]);
            for (int w = 0; w < SECTOR / 8; w++) {
                seg.set(ValueLayout.JAVA_LONG_UNALIGNED, (long) s * SECTOR + w * 8L, v);
            }
        }
        return out;
    }
}
