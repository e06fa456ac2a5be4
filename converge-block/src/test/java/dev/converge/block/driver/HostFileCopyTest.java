package dev.converge.block.driver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Errno;
import dev.converge.block.Extent;
import dev.converge.block.IoStats;
import dev.converge.block.NodeOptions;
import dev.converge.block.WriteRequest;
import dev.converge.block.bitmap.DirtyBitmap;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BlockNode#writeFromHostFile}: another node's host file span written through a node's
 * one write path, copied in the kernel (copy_file_range) between two {@code file} nodes: the
 * bytes land where they should (raw windows on both sides), what was not copied stays a hole,
 * the target's notifiers, dirty bitmaps and statistics see a write; and the fallbacks: a
 * cache.direct target or another filesystem (EXDEV) read and write instead, a cache.direct source
 * names no span.
 */
class HostFileCopyTest {
    private static final int SIZE = 8 << 20;
    private static final int MiB = 1 << 20;

    @TempDir
    Path dir;
    private final List<BlockNode> opened = new ArrayList<>();
    private final List<Path> outside = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (BlockNode n : opened.reversed()) {
            if (n instanceof FileNode fn) {
                fn.close();
            }
        }
        for (Path p : outside) {
            Files.deleteIfExists(p);
        }
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** A sparse file of SIZE bytes with {@code data} at {@code at}. */
    private static Path sparseFile(Path p, byte[] data, long at) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(SIZE);
            f.seek(at);
            f.write(data);
        }
        return p;
    }

    private FileNode file(String name, Path p, boolean direct) throws Exception {
        FileNode n = FileNode.open(name, new NodeOptions(false, false, direct, false), p.toString());
        opened.add(n);
        return n;
    }

    /** A cache.direct file node; the test is skipped (visibly) on a filesystem without O_DIRECT (tmpfs). */
    private FileNode directFile(String name, Path p) throws Exception {
        try {
            return file(name, p, true);
        } catch (OpenException e) {
            assumeThat(e).as("O_DIRECT on the temporary directory's filesystem").isNull();
            throw e;
        }
    }

    private static byte[] read(BlockNode n, long offset, int len) throws BlockIOException {
        return HostFileRangeTest.read(n, offset, len);
    }

    /** Copies [offset, +len) of {@code from} to the same offset of {@code to}; false when {@code from} named no span. */
    private static boolean copy(BlockNode from, long offset, long len, BlockNode to, long toOffset)
            throws BlockIOException {
        Optional<Boolean> done = from.hostFileSpan(offset, len, span -> {
            to.writeFromHostFile(toOffset, span, Set.of());
            return Boolean.TRUE;
        });
        return done.isPresent();
    }

    private static List<Extent> dataExtents(BlockNode n) throws BlockIOException {
        return n.blockStatus(0, n.size()).stream().filter(Extent::isData)
                .map(e -> new Extent(e.offset(), e.length(), Extent.DATA)).toList();
    }

    @Test
    void aSpanIsCopiedThroughTheTargetsWritePathAndTheRestStaysAHole() throws Exception {
        byte[] data = random(3 * MiB, 1);
        FileNode src = file("src", sparseFile(dir.resolve("src.raw"), data, 2 * MiB), false);
        FileNode tgt = file("tgt", sparseFile(dir.resolve("tgt.raw"), new byte[0], 0), false);
        assertThat(tgt.writesFromHostFiles()).as("a buffered file takes kernel copies").isTrue();
        DirtyBitmap bitmap = tgt.addDirtyBitmap(null, 65536);
        List<WriteRequest> seen = new ArrayList<>();
        try (AutoCloseable n = tgt.addBeforeWriteNotifier(seen::add)) {
            assertThat(copy(src, 2 * MiB + 4096, 2 * MiB, tgt, 2 * MiB + 4096)).isTrue();
        }

        assertThat(read(tgt, 2 * MiB + 4096, 2 * MiB)).isEqualTo(Arrays.copyOfRange(data, 4096, 4096 + 2 * MiB));
        assertThat(seen).singleElement().satisfies(r -> {
            assertThat(r.kind()).isEqualTo(WriteRequest.Kind.WRITE);
            assertThat(r.offset()).isEqualTo(2 * MiB + 4096);
            assertThat(r.length()).isEqualTo(2 * MiB);
            assertThat(r.data()).as("the bytes never pass through memory").isNull();
        });
        assertThat(bitmap.dirtyBytes()).as("the 64 KiB granules the copy touched")
                .isEqualTo(2 * MiB + 65536);
        IoStats.Snapshot s = tgt.stats().snapshot();
        assertThat(s.bytes(IoStats.Kind.WRITE)).isEqualTo(2 * MiB);
        assertThat(s.ops(IoStats.Kind.WRITE)).isEqualTo(1);
        assertThat(src.stats().snapshot().bytes(IoStats.Kind.READ)).as("the span counts as the source's read")
                .isEqualTo(2 * MiB);
        assertThat(dataExtents(tgt)).as("only the copied range is allocated")
                .containsExactly(new Extent(2 * MiB + 4096, 2 * MiB, Extent.DATA));
    }

    @Test
    void rawWindowsOnBothSidesShiftTheCopy() throws Exception {
        byte[] data = random(SIZE, 2);
        Path sp = dir.resolve("src.raw");
        Files.write(sp, data);
        BlockNode src = RawNode.open("srcw", NodeOptions.DEFAULTS, file("src", sp, false), 3 * MiB,
                OptionalLong.of(4 * MiB));
        FileNode tgtFile = file("tgt", sparseFile(dir.resolve("tgt.raw"), new byte[0], 0), false);
        BlockNode tgt = RawNode.open("tgtw", NodeOptions.DEFAULTS, tgtFile, MiB, OptionalLong.of(4 * MiB));
        assertThat(tgt.writesFromHostFiles()).isTrue();
        assertThat(src.readsAsHostFile()).isTrue();

        assertThat(copy(src, 512 * 1024, MiB + 1000, tgt, 512 * 1024)).isTrue();

        // source window byte 512 KiB is file byte 3.5 MiB; target window byte 512 KiB is file byte 1.5 MiB
        assertThat(read(tgtFile, MiB + 512 * 1024, MiB + 1000))
                .isEqualTo(Arrays.copyOfRange(data, 3 * MiB + 512 * 1024, 3 * MiB + 512 * 1024 + MiB + 1000));
        assertThat(read(tgtFile, 0, MiB + 512 * 1024)).as("nothing before the window's copy")
                .isEqualTo(new byte[MiB + 512 * 1024]);
        assertThat(tgt.stats().snapshot().bytes(IoStats.Kind.WRITE)).isEqualTo(MiB + 1000);
        assertThat(tgtFile.stats().snapshot().bytes(IoStats.Kind.WRITE)).as("the file below saw it too")
                .isEqualTo(MiB + 1000);
    }

    @Test
    void aCacheDirectTargetReadsAndWritesAndACacheDirectSourceNamesNoSpan() throws Exception {
        byte[] data = random(2 * MiB, 3);
        Path sp = sparseFile(dir.resolve("src.raw"), data, 0);
        FileNode src = file("src", sp, false);
        FileNode direct = directFile("tgt", sparseFile(dir.resolve("tgt.raw"), new byte[0], 0));
        assertThat(direct.writesFromHostFiles()).as("O_DIRECT: no kernel copy into the page cache").isFalse();

        assertThat(copy(src, 4096, MiB, direct, 8192)).isTrue();
        assertThat(read(direct, 8192, MiB)).isEqualTo(Arrays.copyOfRange(data, 4096, 4096 + MiB));
        assertThat(direct.stats().snapshot().bytes(IoStats.Kind.WRITE)).isEqualTo(MiB);

        FileNode directSource = directFile("dsrc", sp);
        assertThat(directSource.readsAsHostFile()).isFalse();
        assertThat(src.readsAsHostFile()).isTrue();
        assertThat(copy(directSource, 0, MiB, src, 4 * MiB)).as("a cache.direct source names no span").isFalse();
        assertThat(read(src, 4 * MiB, MiB)).as("nothing written").isEqualTo(new byte[MiB]);
    }

    @Test
    void anotherFilesystemIsReadAndWrittenAndTheTargetStopsTakingKernelCopies() throws Exception {
        Path shm = Path.of("/dev/shm");
        assumeThat(Files.isDirectory(shm) && Files.isWritable(shm)).as("/dev/shm to put a source on").isTrue();
        assumeThat(Files.getFileStore(shm).equals(Files.getFileStore(dir)))
                .as("/dev/shm is another filesystem than the temporary directory").isFalse();
        Path sp = Files.createTempFile(shm, "converge-hostfilecopy", ".raw");
        outside.add(sp);
        byte[] data = random(2 * MiB, 4);
        sparseFile(sp, data, MiB);
        FileNode src = file("src", sp, false);
        FileNode tgt = file("tgt", sparseFile(dir.resolve("tgt.raw"), new byte[0], 0), false);
        assertThat(tgt.writesFromHostFiles()).isTrue();

        assertThat(copy(src, MiB, 2 * MiB, tgt, MiB)).isTrue();

        assertThat(read(tgt, MiB, 2 * MiB)).isEqualTo(data);
        assertThat(tgt.writesFromHostFiles()).as("after EXDEV copiers use their own buffers").isFalse();
        assertThat(copy(src, MiB, MiB, tgt, 5 * MiB)).as("still correct when asked anyway").isTrue();
        assertThat(read(tgt, 5 * MiB, MiB)).isEqualTo(Arrays.copyOfRange(data, 0, MiB));
    }

    @Test
    void aSourceThatShrankBehindItsNodeCopiesZeroesPastItsEnd() throws Exception {
        byte[] data = random(2 * MiB, 5);
        Path sp = sparseFile(dir.resolve("src.raw"), data, 0);
        FileNode src = file("src", sp, false);
        FileNode tgt = file("tgt", sparseFile(dir.resolve("tgt.raw"), random(SIZE, 6), 0), false);
        try (RandomAccessFile f = new RandomAccessFile(sp.toFile(), "rw")) {
            f.setLength(MiB); // behind the node's back: it still says SIZE
        }

        assertThat(copy(src, MiB / 2, MiB, tgt, 0)).isTrue();

        byte[] expected = new byte[MiB];
        System.arraycopy(data, MiB / 2, expected, 0, MiB / 2);
        assertThat(read(tgt, 0, MiB)).isEqualTo(expected);
    }

    @Test
    void onlyTheErrnosThatMeanNotHereFallBack() {
        assertThat(FileNode.refusesKernelCopy(Posix.EXDEV)).isTrue();
        assertThat(FileNode.refusesKernelCopy(Posix.ENOSYS)).isTrue();
        assertThat(FileNode.refusesKernelCopy(Posix.EOPNOTSUPP)).isTrue();
        assertThat(FileNode.refusesKernelCopy(Errno.EINVAL.code())).isTrue();
        assertThat(FileNode.refusesKernelCopy(Posix.EBADF)).isTrue();
        assertThat(FileNode.refusesKernelCopy(Errno.EIO.code())).as("a failed copy is an error").isFalse();
        assertThat(FileNode.refusesKernelCopy(Errno.ENOSPC.code())).isFalse();
    }
}
