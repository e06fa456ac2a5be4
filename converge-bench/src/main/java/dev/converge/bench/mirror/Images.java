package dev.converge.bench.mirror;

import dev.converge.bench.Sizes;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The benchmark's files: a fully allocated random source, a sparse source with a fraction
 * allocated in scattered 1 MiB extents of random data, and a fresh empty (sparse) target per run.
 * Data comes from {@link SplittableRandom} longs written through a direct buffer, so 4 GiB take a
 * few seconds and land in the page cache (both daemons then read a warm source).
 */
final class Images {
    /** Sparse extents: 1 MiB of data at 1 MiB-aligned offsets. */
    static final long EXTENT = Sizes.MiB;
    /** Size of the direct buffer the data goes through. */
    private static final int CHUNK = 8 << 20;

    private Images() {
    }

    /**
     * A prepared source.
     *
     * @param path      the file
     * @param size      its length
     * @param allocated bytes of data in it (what a mirror must copy)
     */
    record Image(Path path, long size, long allocated) {
    }

    /**
     * Fails with a clear message when {@code dir} has less than {@code needed} bytes usable.
     *
     * @param what what the bytes are for, for the message
     */
    static void requireFreeSpace(Path dir, long needed, String what) throws IOException {
        Files.createDirectories(dir);
        FileStore store = Files.getFileStore(dir);
        long usable = store.getUsableSpace();
        if (usable < needed) {
            throw new IOException("--dir " + dir + ": " + Sizes.human(usable) + " free, need " + Sizes.human(needed) + " ("
                    + what + "); pass --dir on a larger file system or a smaller --size");
        }
    }

    /** Writes {@code size} bytes of random data to a new {@code path} (replacing it). */
    static Image full(Path path, long size, long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            long pos = 0;
            while (pos < size) {
                int n = (int) Math.min(CHUNK, size - pos);
                fill(buf, n, random);
                writeFully(ch, buf, pos);
                pos += n;
            }
        }
        return new Image(path, size, size);
    }

    /**
     * Writes a sparse image of {@code size} bytes: {@code round(fraction × size ÷ 1 MiB)} (at least
     * one) 1 MiB extents of random data at distinct random aligned offsets, holes elsewhere.
     *
     * @throws IllegalArgumentException when size is not a multiple of 1 MiB or fraction not in (0, 1]
     */
    static Image sparse(Path path, long size, double fraction, long seed) throws IOException {
        if (size % EXTENT != 0 || size <= 0) {
            throw new IllegalArgumentException("size: " + size + " (expected: a positive multiple of " + EXTENT + ")");
        }
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("fraction: " + fraction + " (expected: in (0, 1])");
        }
        long slots = size / EXTENT;
        int count = (int) Math.max(1, Math.round(fraction * slots));
        SplittableRandom random = new SplittableRandom(seed);
        long[] chosen = pick(slots, count, random);
        ByteBuffer buf = ByteBuffer.allocateDirect((int) EXTENT).order(ByteOrder.LITTLE_ENDIAN);
        try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "rw")) {
            raf.setLength(0);
            raf.setLength(size);
            FileChannel ch = raf.getChannel();
            for (long slot : chosen) {
                fill(buf, (int) EXTENT, random);
                writeFully(ch, buf, slot * EXTENT);
            }
        }
        return new Image(path, size, count * EXTENT);
    }

    /** A new empty target of {@code size} bytes: truncated, so it holds no data blocks. */
    static Path emptyTarget(Path path, long size) throws IOException {
        Files.deleteIfExists(path);
        try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "rw")) {
            raf.setLength(size);
        }
        return path;
    }

    /** {@code count} distinct slots of {@code 0..slots-1}, sorted: a partial Fisher-Yates shuffle. */
    static long[] pick(long slots, int count, SplittableRandom random) {
        if (slots > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("slots: " + slots + " (expected: at most " + Integer.MAX_VALUE + ")");
        }
        int[] all = new int[(int) slots];
        Arrays.setAll(all, i -> i);
        for (int i = 0; i < count; i++) {
            int j = i + random.nextInt(all.length - i);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        long[] out = new long[count];
        for (int i = 0; i < count; i++) {
            out[i] = all[i];
        }
        Arrays.sort(out);
        return out;
    }

    private static void fill(ByteBuffer buf, int n, SplittableRandom random) {
        buf.clear();
        for (int i = 0; i + Long.BYTES <= n; i += Long.BYTES) {
            buf.putLong(i, random.nextLong());
        }
        for (int i = n & ~(Long.BYTES - 1); i < n; i++) {
            buf.put(i, (byte) random.nextInt());
        }
        buf.limit(n);
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        long p = pos;
        while (buf.hasRemaining()) {
            p += ch.write(buf, p);
        }
    }
}
