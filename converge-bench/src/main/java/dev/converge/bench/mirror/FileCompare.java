package dev.converge.bench.mirror;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * Byte-for-byte comparison of two files through memory maps, window by window
 * ({@link MemorySegment#mismatch} is vectorised), so 4 GiB from the page cache take about a second.
 */
final class FileCompare {
    private static final long WINDOW = 256L << 20;

    private FileCompare() {
    }

    /**
     * The first offset where {@code a} and {@code b} differ, or -1 when they are equal. Files of
     * different lengths differ at the shorter length.
     */
    static long firstDifference(Path a, Path b) throws IOException {
        return firstDifference(a, b, List.of());
    }

    /**
     * The first offset where {@code a} and {@code b} differ outside the {@code ignored} ranges
     * ([start, end) pairs: bytes a writer changed after the copy's consistent point), or -1.
     */
    static long firstDifference(Path a, Path b, List<long[]> ignored) throws IOException {
        try (FileChannel ca = FileChannel.open(a, StandardOpenOption.READ);
                FileChannel cb = FileChannel.open(b, StandardOpenOption.READ)) {
            long from = 0;
            for (;;) {
                long d = firstDifferenceFrom(ca, cb, from);
                if (d < 0) {
                    return -1;
                }
                long skipTo = -1;
                for (long[] r : ignored) {
                    if (r[0] <= d && d < r[1]) {
                        skipTo = Math.max(skipTo, r[1]);
                    }
                }
                if (skipTo < 0) {
                    return d;
                }
                from = skipTo;
            }
        }
    }

    private static long firstDifferenceFrom(FileChannel ca, FileChannel cb, long from) throws IOException {
        {
            long la = ca.size();
            long lb = cb.size();
            long common = Math.min(la, lb);
            for (long pos = from; pos < common; pos += WINDOW) {
                long n = Math.min(WINDOW, common - pos);
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment sa = ca.map(FileChannel.MapMode.READ_ONLY, pos, n, arena);
                    MemorySegment sb = cb.map(FileChannel.MapMode.READ_ONLY, pos, n, arena);
                    long m = sa.mismatch(sb);
                    if (m >= 0) {
                        return pos + m;
                    }
                }
            }
            return la == lb ? -1 : common;
        }
    }
}
