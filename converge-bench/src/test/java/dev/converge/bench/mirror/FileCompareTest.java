package dev.converge.bench.mirror;

import dev.converge.bench.Sizes;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The target check: equal files, one byte changed (first, middle, last), different lengths. */
class FileCompareTest {
    private static final long SIZE = 4 * Sizes.MiB;

    @TempDir
    Path dir;

    @Test
    void equalFilesHaveNoDifference() throws IOException {
        Path a = Images.full(dir.resolve("a"), SIZE, 9).path();
        Path b = Files.copy(a, dir.resolve("b"));
        assertThat(FileCompare.firstDifference(a, b)).isEqualTo(-1);
    }

    @Test
    void oneChangedByteIsFoundWhereverItIs() throws IOException {
        Path a = Images.full(dir.resolve("a"), SIZE, 9).path();
        for (long at : new long[] {0, SIZE / 2 + 3, SIZE - 1}) {
            Path b = Files.copy(a, dir.resolve("b" + at));
            try (RandomAccessFile raf = new RandomAccessFile(b.toFile(), "rw")) {
                raf.seek(at);
                int old = raf.read();
                raf.seek(at);
                raf.write(old ^ 1);
            }
            assertThat(FileCompare.firstDifference(a, b)).isEqualTo(at);
        }
    }

    @Test
    void aShorterFileDiffersAtItsEnd() throws IOException {
        Path a = Images.full(dir.resolve("a"), SIZE, 9).path();
        Path b = Files.copy(a, dir.resolve("b"));
        try (RandomAccessFile raf = new RandomAccessFile(b.toFile(), "rw")) {
            raf.setLength(SIZE - 10);
        }
        assertThat(FileCompare.firstDifference(a, b)).isEqualTo(SIZE - 10);
    }

    @Test
    void aSparseFileEqualsItsZeroFilledCopy() throws IOException {
        Path a = Images.sparse(dir.resolve("a"), SIZE, 0.25, 4).path();
        Path b = dir.resolve("b");
        Files.write(b, Files.readAllBytes(a));
        assertThat(FileCompare.firstDifference(a, b)).isEqualTo(-1);
    }
}
