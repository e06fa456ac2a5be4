package dev.converge.bench.mirror;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

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
        try (FileChannel ca = FileChannel.open(a, StandardOpenOption.READ);
                FileChannel cb = FileChannel.open(b, StandardOpenOption.READ)) {
            long la = ca.size();
            long lb = cb.size();
            long common = Math.min(la, lb);
            for (long pos = 0; pos < common; pos += WINDOW) {
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
