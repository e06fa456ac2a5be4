package dev.converge.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.nbd.wire.NbdProtocol.Command;
import dev.converge.nbd.wire.NbdProtocol.CommandFlag;
import dev.converge.nbd.wire.NbdProtocol.Option;
import dev.converge.nbd.wire.NbdProtocol.ReplyType;
import dev.converge.nbd.wire.OptionRequest;
import dev.converge.nbd.wire.Request;
import dev.converge.nbd.wire.SimpleReply;
import dev.converge.nbd.wire.StructuredChunk;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * READ replies sent from a host file with sendfile ({@link ReplyWriter#fileData}): the bytes a client
 * gets are the file's, in simple replies, structured chunks (DF and sparse) and extended chunks; what
 * the socket does not take at once goes out through the request's buffer; a region that fails after
 * its header closes that connection only; small reads and TLS stay on the buffered path.
 */
class SendfileReadTest {
    private static final int SIZE = 8 << 20;
    /** Larger than a quick request, so the server asks for a file region. */
    private static final int LARGE = 256 << 10;

    @TempDir
    Path dir;
    private byte[] image;
    private RegionBackend backend;
    private NbdServer server;
    private final List<TestClient> clients = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        image = new byte[SIZE];
        new Random(14).nextBytes(image);
        Path file = dir.resolve("img.raw");
        Files.write(file, image);
        backend = new RegionBackend(file);
        server = NbdServer.start(NbdServerConfig.unix(dir.resolve("nbd.sock")));
        server.addExport(NbdExport.writable("d", backend));
    }

    @AfterEach
    void tearDown() throws IOException {
        for (TestClient c : clients) {
            c.close();
        }
        server.close();
        backend.close();
        assertThat(backend.openRegions.get()).as("every region given back").isZero();
    }

    private TestClient client(boolean structured) throws IOException {
        TestClient c = TestClient.connect(server.localAddress()).open("d", structured, List.of());
        clients.add(c);
        return c;
    }

    private byte[] expected(long offset, int len) {
        return Arrays.copyOfRange(image, (int) offset, (int) offset + len);
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    @Test
    void simpleRepliesCarryTheFilesBytes() throws IOException {
        TestClient c = client(false);
        long[] offsets = {0, 12345, SIZE - LARGE, SIZE - 3L * LARGE - 7};
        for (int i = 0; i < offsets.length; i++) {
            c.send(Request.read(i, offsets[i], LARGE));
            SimpleReply r = (SimpleReply) c.reply();
            assertThat(r.error()).isZero();
            assertThat(bytes(r.data())).as("read at %d", offsets[i]).isEqualTo(expected(offsets[i], LARGE));
        }
        assertThat(backend.regionsSent.get()).isEqualTo(offsets.length);
    }

    @Test
    void structuredChunksWithAndWithoutDfCarryTheFilesBytes() throws IOException {
        TestClient c = client(true);
        c.send(Request.of(Command.READ, Set.of(CommandFlag.DF), 1, 4096 + 1, 3 * LARGE));
        StructuredChunk df = (StructuredChunk) c.reply();
        assertThat(df.type()).isEqualTo(ReplyType.OFFSET_DATA);
        assertThat(df.done()).isTrue();
        assertThat(df.offset()).isEqualTo(4097);
        assertThat(bytes(df.data())).isEqualTo(expected(4097, 3 * LARGE));

        // sparse read: the backend reports data, so one data chunk, sent from the file
        c.send(Request.read(2, SIZE - LARGE - 512, LARGE + 512));
        StructuredChunk sparse = (StructuredChunk) c.reply();
        assertThat(sparse.type()).isEqualTo(ReplyType.OFFSET_DATA);
        assertThat(sparse.done()).isTrue();
        assertThat(bytes(sparse.data())).isEqualTo(expected(SIZE - LARGE - 512, LARGE + 512));
        assertThat(backend.regionsSent.get()).isEqualTo(2);
    }

    @Test
    void extendedChunksCarryTheFilesBytesAndEchoTheOffset() throws IOException {
        TestClient c = TestClient.connect(server.localAddress());
        clients.add(c);
        c.start();
        TestClient.expectAck(c.option(OptionRequest.of(Option.EXTENDED_HEADERS, new byte[0])));
        TestClient.expectAck(c.option(OptionRequest.go("d", List.of())));
        c.write(Request.of(Command.READ, Set.of(CommandFlag.DF), 9, 65536, 2 * LARGE).encodeExtended());
        ExtendedHeadersTest.Chunk chunk = ExtendedHeadersTest.chunk(c);
        assertThat(chunk.type()).isEqualTo((int) ReplyType.OFFSET_DATA.code());
        assertThat(chunk.flags()).isEqualTo(NbdProtocol.REPLY_FLAG_DONE);
        assertThat(chunk.offset()).isEqualTo(65536);
        assertThat(chunk.payload().getLong(0)).isEqualTo(65536);
        assertThat(bytes(chunk.payload().slice(8, 2 * LARGE))).isEqualTo(expected(65536, 2 * LARGE));
        assertThat(backend.regionsSent.get()).isEqualTo(1);
    }

    @Test
    void whatTheSocketDoesNotTakeGoesOutThroughTheBuffer() throws IOException {
        backend.transferLimit = 1000; // the first transferTo sends 1000 bytes, the next finds the socket "full"
        TestClient plain = client(false);
        TestClient chunked = client(true);
        for (int i = 0; i < 4; i++) {
            long off = 3L * i * LARGE + i;
            plain.send(Request.read(i, off, LARGE + i));
            assertThat(bytes(((SimpleReply) plain.reply()).data())).isEqualTo(expected(off, LARGE + i));
            chunked.send(Request.read(i, off, LARGE + i));
            assertThat(bytes(((StructuredChunk) chunked.reply()).data())).isEqualTo(expected(off, LARGE + i));
        }
        assertThat(backend.regionsSent.get()).isEqualTo(8);
        assertThat(backend.regionReads.get()).as("each finished through the buffer").isEqualTo(8);
    }

    @Test
    void pipelinedLargeAndSmallReadsAllArriveIntact() throws IOException {
        TestClient c = client(true);
        Random rnd = new Random(5);
        int n = 64;
        long[] offsets = new long[n];
        int[] lengths = new int[n];
        for (int i = 0; i < n; i++) {
            lengths[i] = i % 3 == 0 ? 4096 : LARGE + rnd.nextInt(LARGE);
            offsets[i] = rnd.nextInt(SIZE - lengths[i]);
            c.send(Request.of(Command.READ, Set.of(CommandFlag.DF), i, offsets[i], lengths[i]));
        }
        for (int i = 0; i < n; i++) {
            StructuredChunk r = (StructuredChunk) c.reply();
            int k = (int) r.cookie();
            assertThat(bytes(r.data())).as("read %d", k).isEqualTo(expected(offsets[k], lengths[k]));
        }
        assertThat(backend.regionsSent.get()).as("only the large reads").isEqualTo(n - (n + 2) / 3);
    }

    @Test
    @Timeout(60)
    void aRegionThatFailsAfterItsHeaderClosesThatConnectionOnly() throws IOException {
        TestClient victim = client(true);
        backend.failTransfers = true;
        victim.send(Request.read(1, 0, LARGE));
        assertThat(victim.closedByServerAfterAnyBytes()).isTrue();
        backend.failTransfers = false;
        TestClient other = client(true);
        other.send(Request.read(2, 4096, LARGE));
        assertThat(bytes(((StructuredChunk) other.reply()).data())).isEqualTo(expected(4096, LARGE));
    }

    @Test
    void smallReadsAndBackendsWithoutRegionsUseTheBuffer() throws IOException {
        TestClient c = client(true);
        c.send(Request.read(1, 100, RequestThreads.QUICK_IO));
        assertThat(bytes(((StructuredChunk) c.reply()).data())).isEqualTo(expected(100, RequestThreads.QUICK_IO));
        assertThat(backend.regionsAsked.get()).isZero();
        backend.offerRegions = false;
        c.send(Request.read(2, 200, LARGE));
        assertThat(bytes(((StructuredChunk) c.reply()).data())).isEqualTo(expected(200, LARGE));
        assertThat(backend.regionsAsked.get()).isEqualTo(1);
        assertThat(backend.regionsSent.get()).isZero();
    }

    /**
     * The test file through a FileChannel, offering file regions for sendfile; knobs to make the
     * transfers stop early or fail, and counters of what the server did with them.
     */
    private static final class RegionBackend implements NbdExportBackend, AutoCloseable {
        private final FileBackend file;
        private final FileChannel channel;
        final AtomicInteger regionsAsked = new AtomicInteger();
        final AtomicInteger regionsSent = new AtomicInteger();
        final AtomicInteger regionReads = new AtomicInteger();
        final AtomicInteger openRegions = new AtomicInteger();
        volatile boolean offerRegions = true;
        /** Bytes the first transferTo of a region may send; later ones send nothing ("socket full"). */
        volatile long transferLimit = Long.MAX_VALUE;
        volatile boolean failTransfers;

        RegionBackend(Path path) throws IOException {
            this.file = new FileBackend(path);
            this.channel = FileChannel.open(path, StandardOpenOption.READ);
        }

        @Override
        public long size() {
            return file.size();
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws dev.converge.nbd.wire.NbdIoException {
            file.read(offset, dst);
        }

        @Override
        public Optional<FileRegion> fileRegion(long offset, long length) {
            regionsAsked.incrementAndGet();
            if (!offerRegions) {
                return Optional.empty();
            }
            regionsSent.incrementAndGet();
            openRegions.incrementAndGet();
            return Optional.of(new FileRegion() {
                private boolean first = true;

                @Override
                public long length() {
                    return length;
                }

                @Override
                public long transferTo(long from, long count, WritableByteChannel target) throws IOException {
                    if (failTransfers) {
                        throw new IOException("injected: the medium went away");
                    }
                    long allowed = first ? Math.min(count, transferLimit) : (transferLimit == Long.MAX_VALUE ? count : 0);
                    first = false;
                    return allowed == 0 ? 0 : channel.transferTo(offset + from, allowed, target);
                }

                @Override
                public void read(long from, ByteBuffer dst) throws IOException {
                    regionReads.incrementAndGet();
                    file.read(offset + from, dst);
                }

                @Override
                public void close() {
                    openRegions.decrementAndGet();
                }
            });
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) throws dev.converge.nbd.wire.NbdIoException {
            file.write(offset, src, fua);
        }

        @Override
        public void writeZeroes(long offset, long length, boolean mayTrim, boolean fastZero)
                throws dev.converge.nbd.wire.NbdIoException {
            file.writeZeroes(offset, length, mayTrim, fastZero);
        }

        @Override
        public void trim(long offset, long length) {
            file.trim(offset, length);
        }

        @Override
        public void flush() throws dev.converge.nbd.wire.NbdIoException {
            file.flush();
        }

        @Override
        public List<dev.converge.nbd.wire.Extent> blockStatus(long offset, long length) {
            return file.blockStatus(offset, length);
        }

        @Override
        public void close() throws IOException {
            channel.close();
            file.close();
        }
    }
}
