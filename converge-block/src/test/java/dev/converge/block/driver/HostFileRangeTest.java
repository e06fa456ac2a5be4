package dev.converge.block.driver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.DrainedSection;
import dev.converge.block.HostFileRange;
import dev.converge.block.NodeOptions;
import dev.converge.block.ReqFlag;
import dev.converge.block.WriteFilterNode;
import dev.converge.block.WriteRequest;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BlockNode#hostFileRange}: which nodes name their bytes as a host file range (file, raw over
 * it, a job's write filter above them) and which do not; the bytes sent with sendfile or read from a
 * range are the node's; a file that shrank behind the node reads as zeroes past its end; a range
 * holds neither the node's drain nor its close.
 */
class HostFileRangeTest {
    private static final int SIZE = 4 << 20;

    @TempDir
    Path dir;
    private Path path;
    private byte[] image;
    private FileNode file;
    private ServerSocketChannel listener;
    private SocketChannel out;
    private SocketChannel in;

    @BeforeEach
    void setUp() throws Exception {
        image = new byte[SIZE];
        new Random(7).nextBytes(image);
        Arrays.fill(image, SIZE / 2, SIZE / 2 + (1 << 20), (byte) 0);
        path = dir.resolve("img.raw");
        Files.write(path, image);
        try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "rw")) {
            // a real hole in the middle
            f.setLength(SIZE / 2);
            f.setLength(SIZE);
            f.seek(SIZE / 2 + (1 << 20));
            f.write(image, SIZE / 2 + (1 << 20), SIZE / 2 - (1 << 20));
        }
        file = FileNode.open("f", NodeOptions.DEFAULTS, path.toString());
        listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        listener.bind(UnixDomainSocketAddress.of(dir.resolve("s.sock")));
        out = SocketChannel.open(listener.getLocalAddress());
        in = listener.accept();
    }

    @AfterEach
    void tearDown() throws IOException {
        file.close();
        out.close();
        in.close();
        listener.close();
    }

    /** The range's bytes as a socket peer receives them: sendfile while it takes them, then read(). */
    private byte[] send(HostFileRange r) throws Exception {
        int len = Math.toIntExact(r.length());
        CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(() -> {
            ByteBuffer b = ByteBuffer.allocate(len);
            try {
                while (b.hasRemaining() && in.read(b) >= 0) {
                    // until all arrived
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            return b.array();
        });
        long sent = 0;
        while (sent < len) {
            long n = r.transferTo(sent, len - sent, out);
            if (n <= 0) {
                break;
            }
            sent += n;
        }
        if (sent < len) {
            ByteBuffer rest = ByteBuffer.allocate(len - (int) sent);
            r.read(sent, rest);
            rest.flip();
            while (rest.hasRemaining()) {
                out.write(rest);
            }
        }
        return received.get();
    }

    private byte[] expected(long offset, int len) {
        return Arrays.copyOfRange(image, (int) offset, (int) offset + len);
    }

    /** {@code len} bytes of {@code n} at {@code offset} (a direct buffer: the file driver reads into it without a copy). */
    static byte[] read(BlockNode n, long offset, int len) throws BlockIOException {
        ByteBuffer b = ByteBuffer.allocateDirect(len);
        n.read(offset, b);
        byte[] a = new byte[len];
        b.get(a);
        return a;
    }

    @Test
    void aFileNodesRangeSendsItsBytesAcrossTheHole() throws Exception {
        long off = SIZE / 2 - 100_000;
        int len = 1_500_000; // data, the hole, data
        try (HostFileRange r = file.hostFileRange(off, len).orElseThrow()) {
            assertThat(r.position()).isEqualTo(off);
            assertThat(send(r)).isEqualTo(expected(off, len)).isEqualTo(read(file, off, len));
            ByteBuffer b = ByteBuffer.allocate(4096);
            r.read(len - 4096, b);
            assertThat(b.array()).isEqualTo(expected(off + len - 4096, 4096));
            assertThatThrownBy(() -> r.read(len - 10, ByteBuffer.allocate(11)))
                    .isInstanceOf(IndexOutOfBoundsException.class);
        }
        try (HostFileRange tail = file.hostFileRange(SIZE - 300_000, 300_000).orElseThrow()) {
            assertThat(send(tail)).as("up to the end of the file").isEqualTo(expected(SIZE - 300_000, 300_000));
        }
        assertThatThrownBy(() -> file.hostFileRange(SIZE - 10, 11)).isInstanceOf(BlockIOException.class)
                .hasMessageContaining("beyond the end");
    }

    @Test
    void rawShiftsTheRangeByItsWindowAndAFilterPassesItThrough() throws Exception {
        RawNode raw = RawNode.open("r", NodeOptions.DEFAULTS, file, 65536, OptionalLong.of(2 << 20));
        PassFilter filter = new PassFilter(raw);
        try (HostFileRange r = filter.hostFileRange(1000, 600_000).orElseThrow()) {
            assertThat(r.position()).isEqualTo(66536);
            assertThat(send(r)).isEqualTo(expected(66536, 600_000));
        }
        // a write through the filter is in the file, so in the next range
        byte[] data = new byte[100_000];
        new Random(9).nextBytes(data);
        filter.write(5000, MemorySegment.ofArray(data), Set.of());
        System.arraycopy(data, 0, image, 65536 + 5000, data.length);
        try (HostFileRange r = filter.hostFileRange(0, 300_000).orElseThrow()) {
            assertThat(send(r)).isEqualTo(expected(65536, 300_000)).isEqualTo(read(filter, 0, 300_000));
        }
        assertThat(filter.intercepted).isEqualTo(1);
    }

    @Test
    void nodesWhoseBytesAreNotTheFilesNameNoRange() throws Exception {
        FileNode direct = null;
        try {
            direct = FileNode.open("d", new NodeOptions(false, false, true, false), path.toString());
            assertThat(direct.hostFileRange(0, 65536)).as("cache.direct").isEmpty();
        } catch (OpenException e) {
            // a filesystem without O_DIRECT (tmpfs): nothing to check there
            assertThat(e.getMessage()).contains("Could not open");
        } finally {
            if (direct != null) {
                direct.close();
            }
        }
        NullNode zeroes = new NullNode("n", NodeOptions.DEFAULTS, 1 << 20, true, 0);
        assertThat(zeroes.hostFileRange(0, 65536)).isEmpty();
        assertThat(file.hostFileRange(0, 0)).as("nothing to send").isEmpty();
    }

    @Test
    void aFileThatShrankBehindTheNodeReadsAsZeroesPastItsEnd() throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "rw")) {
            f.setLength(SIZE - 200_000);
        }
        long off = SIZE - 500_000;
        byte[] want = expected(off, 500_000);
        Arrays.fill(want, 300_000, 500_000, (byte) 0);
        try (HostFileRange r = file.hostFileRange(off, 500_000).orElseThrow()) {
            assertThat(r.transferTo(400_000, 100_000, out)).as("nothing left in the file there").isZero();
            ByteBuffer b = ByteBuffer.allocate(500_000);
            r.read(0, b);
            assertThat(b.array()).isEqualTo(want);
        }
        assertThat(read(file, off, 500_000)).as("as the node reads it").isEqualTo(want);
    }

    @Test
    void aRangeHoldsNeitherADrainNorTheNodesClose() throws Exception {
        HostFileRange r = file.hostFileRange(4096, 700_000).orElseThrow();
        try (DrainedSection drained = file.drain()) {
            assertThat(file.inflight()).isZero();
        }
        file.close();
        assertThatThrownBy(() -> file.hostFileRange(0, 4096)).isInstanceOf(BlockIOException.class)
                .hasMessageContaining("closed");
        assertThat(send(r)).as("the range still reads after its node closed").isEqualTo(expected(4096, 700_000));
        r.close();
        r.close(); // idempotent
        assertThatThrownBy(() -> r.read(0, ByteBuffer.allocate(1))).isInstanceOf(IllegalStateException.class);
    }

    /** A write filter that runs every write at once, as a mirror's filter does between copies. */
    private static final class PassFilter extends WriteFilterNode {
        int intercepted;

        PassFilter(BlockNode child) {
            super("flt", "test-filter", "file", child);
        }

        @Override
        protected void intercept(WriteRequest.Kind kind, long offset, long bytes, MemorySegment data,
                Set<ReqFlag> flags, ChildWrite childWrite) throws BlockIOException {
            intercepted++;
            childWrite.run();
        }
    }
}
