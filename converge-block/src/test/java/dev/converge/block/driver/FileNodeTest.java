package dev.converge.block.driver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.converge.block.BlockIOException;
import dev.converge.block.Errno;
import dev.converge.block.Extent;
import dev.converge.block.NodeOptions;
import dev.converge.block.ReqFlag;
import dev.converge.testing.TestTimeouts;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileNodeTest {
    private static final int MIB = 1 << 20;
    private static final NodeOptions UNMAP = NodeOptions.DEFAULTS.withDiscardUnmap(true);

    @TempDir
    Path dir;
    private final Arena arena = Arena.ofShared();
    private FileNode node;

    @AfterEach
    void tearDown() {
        if (node != null) {
            node.close();
        }
        arena.close();
    }

    private Path sparse(long size) throws Exception {
        Path p = dir.resolve("img.raw");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }

    private MemorySegment pattern(long len, int seed) {
        MemorySegment s = arena.allocate(len, 4096);
        for (long i = 0; i < len; i++) {
            s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + seed));
        }
        return s;
    }

    @Test
    void writeReadRoundTrip() throws Exception {
        node = FileNode.open("f", NodeOptions.DEFAULTS, sparse(MIB).toString());
        MemorySegment src = pattern(10_000, 7);
        node.write(12_345, src, Set.of(ReqFlag.FUA));
        MemorySegment dst = arena.allocate(10_000);
        node.read(12_345, dst);
        assertThat(dst.mismatch(src)).isEqualTo(-1);
        // heap buffers go through a native bounce buffer
        ByteBuffer heap = ByteBuffer.allocate(100);
        node.read(12_345, heap);
        assertThat(heap.get(1)).isEqualTo(src.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 1));
        byte[] onDisk = Files.readAllBytes(node.filename() == null ? null : Path.of(node.filename()));
        assertThat(onDisk[12_345 + 9_999]).isEqualTo(src.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 9_999));
    }

    @Test
    void outOfRangeAndReadOnlyRequestsAreRefusedWithErrno() throws Exception {
        Path p = sparse(MIB);
        node = FileNode.open("f", NodeOptions.DEFAULTS.withReadOnly(true), p.toString());
        MemorySegment buf = arena.allocate(4096);
        assertThatThrownBy(() -> node.read(MIB - 100, buf)).isInstanceOfSatisfying(BlockIOException.class,
                e -> assertThat(e.kind()).isEqualTo(Errno.EINVAL));
        assertThatThrownBy(() -> node.write(0, buf)).isInstanceOfSatisfying(BlockIOException.class,
                e -> assertThat(e.kind()).isEqualTo(Errno.EPERM));
        assertThatThrownBy(() -> node.read(-1, buf)).isInstanceOf(BlockIOException.class)
                .hasMessageContaining("invalid range");
    }

    @Test
    void missingFileGivesQemuText() {
        assertThatThrownBy(() -> FileNode.open("f", NodeOptions.DEFAULTS, dir.resolve("nope").toString()))
                .isInstanceOf(OpenException.class)
                .hasMessage("Could not open '" + dir.resolve("nope") + "': No such file or directory");
    }

    @Test
    void writeZeroesAndDiscardReadBackZeroes() throws Exception {
        node = FileNode.open("f", UNMAP, sparse(MIB).toString());
        node.write(0, pattern(MIB, 3));
        node.writeZeroes(4096, 8192, Set.of());
        node.writeZeroes(65536, 65536, Set.of(ReqFlag.MAY_UNMAP));
        node.discard(262144, 65536);
        MemorySegment dst = arena.allocate(MIB);
        node.read(0, dst);
        assertThat(isZero(dst, 4096, 8192)).isTrue();
        assertThat(isZero(dst, 65536, 65536)).isTrue();
        assertThat(dst.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 4095)).isNotZero().isEqualTo((byte) (4095 * 31 + 3));
        List<Extent> st = node.blockStatus(65536, 65536);
        assertThat(st).singleElement().satisfies(e -> assertThat(e.isZero()).isTrue());
        List<Extent> punched = node.blockStatus(262144, 65536);
        assertThat(punched).singleElement().satisfies(e -> assertThat(e.isZero()).isTrue());
    }

    @Test
    void discardIsIgnoredWithoutDiscardUnmap() throws Exception {
        node = FileNode.open("f", NodeOptions.DEFAULTS, sparse(MIB).toString());
        node.write(0, pattern(65536, 1));
        node.discard(0, 65536);
        assertThat(node.blockStatus(0, 65536)).singleElement().satisfies(e -> assertThat(e.isData()).isTrue());
    }

    @Tag("integration")
    @Test
    void blockStatusMatchesQemuImgMap() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/qemu-img")), "qemu-img not installed: skipping comparison");
        Path p = sparse(4 * MIB);
        node = FileNode.open("f", UNMAP, p.toString());
        node.write(0, pattern(65536, 1));
        node.write(MIB, pattern(3 * 65536, 2));
        node.write(3 * MIB + 4096, pattern(8192, 3));
        node.discard(MIB + 65536, 65536);
        node.flush();
        List<Extent> ours = node.blockStatus(0, 4 * MIB);
        assertThat(ours.getFirst().offset()).isZero();
        assertThat(ours.getLast().end()).isEqualTo(4 * MIB);

        Process proc = new ProcessBuilder("/usr/bin/qemu-img", "map", "--output=json", "-f", "raw", p.toString())
                .redirectErrorStream(true).start();
        byte[] out = proc.getInputStream().readAllBytes();
        assertThat(proc.waitFor(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        assertThat(proc.exitValue()).as(new String(out)).isZero();
        JsonNode map = new ObjectMapper().readTree(out);
        for (long blk = 0; blk < 4 * MIB; blk += 4096) {
            JsonNode theirs = at(map, blk);
            Extent mine = at(ours, blk);
            assertThat(mine.isData()).as("data at %d", blk).isEqualTo(theirs.get("data").asBoolean());
            assertThat(mine.isZero()).as("zero at %d", blk).isEqualTo(theirs.get("zero").asBoolean());
        }
    }

    @Test
    void directIoAlignedAndUnaligned() throws Exception {
        Path p = sparse(MIB);
        NodeOptions direct = new NodeOptions(false, true, true, false);
        try {
            node = FileNode.open("f", direct, p.toString());
        } catch (OpenException e) {
            assumeTrue(false, "filesystem refuses O_DIRECT: " + e.getMessage());
        }
        MemorySegment aligned = pattern(8192, 5);
        node.write(4096, aligned);
        MemorySegment back = arena.allocate(8192, 4096);
        node.read(4096, back);
        assertThat(back.mismatch(aligned)).isEqualTo(-1);
        // unaligned offset, length and buffer: bounce buffer and read-modify-write
        MemorySegment odd = arena.allocate(1001, 4096).asSlice(3, 997);
        odd.copyFrom(pattern(997, 9));
        node.write(4096 + 100, odd);
        MemorySegment dst = arena.allocate(2000).asSlice(1, 997);
        node.read(4096 + 100, dst);
        assertThat(dst.mismatch(odd)).isEqualTo(-1);
        node.read(4096, back);
        assertThat(back.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 99)).isEqualTo(aligned.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 99));
        assertThat(back.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 100 + 997))
                .isEqualTo(aligned.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 100 + 997));
        assertThat(Files.size(p)).isEqualTo(MIB);
    }

    private static boolean isZero(MemorySegment s, long off, long len) {
        for (long i = off; i < off + len; i++) {
            if (s.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) != 0) {
                return false;
            }
        }
        return true;
    }

    private static JsonNode at(JsonNode map, long off) {
        for (JsonNode e : map) {
            long s = e.get("start").asLong();
            if (off >= s && off < s + e.get("length").asLong()) {
                return e;
            }
        }
        throw new AssertionError("qemu-img map does not cover " + off);
    }

    private static Extent at(List<Extent> ext, long off) {
        return ext.stream().filter(e -> off >= e.offset() && off < e.end()).findFirst()
                .orElseThrow(() -> new AssertionError("no extent covers " + off));
    }
}
