package dev.converge.bench.mirror;

import dev.converge.bench.Sizes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.converge.bench.Daemons;
import dev.converge.daemon.launch.ChildDaemon;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Image preparation: sizes, allocation (SEEK_DATA, cross-checked with qemu-img map), contents. */
class ImagesTest {
    private static final long SIZE = 32 * Sizes.MiB;

    @TempDir
    Path dir;

    @Test
    void fullImageIsAllocatedEverywhereAndRandom() throws Exception {
        Images.Image img = Images.full(dir.resolve("full.img"), SIZE, 1);
        assertThat(Files.size(img.path())).isEqualTo(SIZE);
        assertThat(img.allocated()).isEqualTo(SIZE);
        assertThat(Allocation.allocatedBytes(img.path(), SIZE)).isEqualTo(SIZE);
        byte[] head = new byte[4096];
        try (var in = Files.newInputStream(img.path())) {
            assertThat(in.readNBytes(head, 0, head.length)).isEqualTo(head.length);
        }
        assertThat(distinctBytes(head)).as("random data, not a fill pattern").isGreaterThan(200);
        if (qemuImgPresent()) {
            assertThat(qemuImgMapData(img.path())).isEqualTo(SIZE);
        }
    }

    @Test
    void sparseImageHasTenPercentInWholeExtents() throws Exception {
        Images.Image img = Images.sparse(dir.resolve("sparse.img"), SIZE, 0.10, 7);
        assertThat(Files.size(img.path())).isEqualTo(SIZE);
        // 10% of 32 one-MiB slots is 3.2: three extents.
        assertThat(img.allocated()).isEqualTo(3 * Sizes.MiB);
        long measured = Allocation.allocatedBytes(img.path(), SIZE);
        assertThat(measured).isEqualTo(img.allocated());
        if (qemuImgPresent()) {
            assertThat(qemuImgMapData(img.path())).isEqualTo(img.allocated());
        }
    }

    @Test
    void emptyTargetHasTheSizeAndNoData() throws IOException {
        Path t = Images.emptyTarget(dir.resolve("t.img"), SIZE);
        assertThat(Files.size(t)).isEqualTo(SIZE);
        assertThat(Allocation.allocatedBytes(t, SIZE)).isZero();
    }

    @Test
    void emptyTargetReplacesAnOldFile() throws IOException {
        Path t = dir.resolve("t.img");
        Images.full(t, SIZE, 3);
        Images.emptyTarget(t, SIZE);
        assertThat(Allocation.allocatedBytes(t, SIZE)).isZero();
    }

    @Test
    void pickedSlotsAreDistinctSortedAndInRange() {
        long[] slots = Images.pick(100, 40, new SplittableRandom(5));
        assertThat(slots).hasSize(40).isSorted().doesNotHaveDuplicates();
        assertThat(slots[0]).isNotNegative();
        assertThat(slots[39]).isLessThan(100);
    }

    @Test
    void badSparseArgumentsAreNamed() {
        assertThatThrownBy(() -> Images.sparse(dir.resolve("x"), SIZE + 1, 0.1, 1)).hasMessageContaining("size: " + (SIZE + 1));
        assertThatThrownBy(() -> Images.sparse(dir.resolve("x"), SIZE, 0, 1)).hasMessageContaining("fraction: 0.0");
    }

    @Test
    void tooLittleSpaceFailsNamingDirAndSizes() {
        assertThatThrownBy(() -> Images.requireFreeSpace(dir, Long.MAX_VALUE / 2, "the images"))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("--dir " + dir)
                .hasMessageContaining("free, need")
                .hasMessageContaining("the images");
    }

    @Test
    void allocationOfAMissingFileIsAnError() {
        assertThatThrownBy(() -> Allocation.allocatedBytes(dir.resolve("missing"), 1)).isInstanceOf(IOException.class)
                .hasMessageContaining("missing");
    }

    private static boolean qemuImgPresent() {
        boolean present = Daemons.onPath("qemu-img");
        if (!present) {
            System.err.println("qemu-img not installed: allocation cross-check skipped (apt-get install qemu-utils)");
        }
        return present;
    }

    /** Sum of the lengths qemu-img map reports as data. */
    private static long qemuImgMapData(Path file) throws Exception {
        Process p = new ProcessBuilder("qemu-img", "map", "--output=json", "-f", "raw", file.toString()).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor()).as(new String(p.getErrorStream().readAllBytes())).isZero();
        long data = 0;
        for (JsonNode e : new ObjectMapper().readTree(out)) {
            if (e.path("data").asBoolean()) {
                data += e.path("length").asLong();
            }
        }
        return data;
    }

    private static long distinctBytes(byte[] b) {
        boolean[] seen = new boolean[256];
        long n = 0;
        for (byte x : b) {
            if (!seen[x & 0xff]) {
                seen[x & 0xff] = true;
                n++;
            }
        }
        return n;
    }
}
