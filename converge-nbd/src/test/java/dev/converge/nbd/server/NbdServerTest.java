package dev.converge.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.nbd.wire.Extent;
import dev.converge.nbd.wire.IoErrorKind;
import dev.converge.nbd.wire.NbdIoException;
import dev.converge.nbd.wire.NbdProtocol.Command;
import dev.converge.nbd.wire.NbdProtocol.CommandFlag;
import dev.converge.nbd.wire.NbdProtocol.Errno;
import dev.converge.nbd.wire.NbdProtocol.ReplyType;
import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.nbd.wire.Reply;
import dev.converge.nbd.wire.Request;
import dev.converge.nbd.wire.SimpleReply;
import dev.converge.nbd.wire.StructuredChunk;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server driven byte by byte with the wire codec: errors, pipelining, hostile and vanishing clients. */
class NbdServerTest {
    private static final int SIZE = 1 << 20;
    private NbdServer server;
    private final List<TestClient> clients = new ArrayList<>();

    private NbdServer start(NbdServerConfig config, NbdExport... exports) throws IOException {
        server = NbdServer.start(config);
        for (NbdExport e : exports) {
            server.addExport(e);
        }
        return server;
    }

    private TestClient client() throws IOException {
        TestClient c = TestClient.connect(server.localAddress());
        clients.add(c);
        return c;
    }

    @AfterEach
    void stop() throws IOException {
        for (TestClient c : clients) {
            c.close();
        }
        if (server != null) {
            server.close();
            assertThat(server.connectionCount()).isZero();
        }
    }

    private static NbdServerConfig local() {
        return NbdServerConfig.tcp("127.0.0.1", 0);
    }

    private static int errnoOf(Reply r) {
        return switch (r) {
            case SimpleReply s -> s.error();
            case StructuredChunk c -> c.type().isError() ? c.errno() : 0;
        };
    }

    private Reply roundTrip(TestClient c, Request r) throws IOException {
        c.send(r);
        Reply reply = c.reply();
        assertThat(reply.cookie()).isEqualTo(r.cookie());
        return reply;
    }

    @Test
    void badRequestsGetTheProtocolsErrorsAndTheConnectionGoesOn() throws Exception {
        MemoryBackend mem = new MemoryBackend(SIZE, false, false);
        start(local(), NbdExport.writable("rw", mem), NbdExport.readOnly("ro", new MemoryBackend(SIZE)));
        TestClient c = client().open("rw", true, List.of());
        assertThat(errnoOf(roundTrip(c, Request.read(1, SIZE - 10, 11)))).isEqualTo(Errno.EINVAL.wire());
        assertThat(errnoOf(roundTrip(c, Request.write(2, SIZE - 1, ByteBuffer.allocate(2), Set.of()))))
                .isEqualTo(Errno.ENOSPC.wire());
        assertThat(errnoOf(roundTrip(c, Request.read(3, 0, NbdProtocol.MAX_BUFFER_SIZE + 1L))))
                .isEqualTo(Errno.EOVERFLOW.wire());
        assertThat(errnoOf(roundTrip(c, Request.of(Command.WRITE, Set.of(CommandFlag.REQ_ONE), 4, 0, 0))))
                .isEqualTo(Errno.EINVAL.wire());
        assertThat(errnoOf(roundTrip(c, Request.of(Command.WRITE_ZEROES, Set.of(CommandFlag.FAST_ZERO), 5, 0, 4096))))
                .isEqualTo(Errno.ENOTSUP.wire());
        assertThat(errnoOf(roundTrip(c, new Request(0, 42, 6, 0, 0, null)))).isEqualTo(Errno.EINVAL.wire());
        assertThat(errnoOf(roundTrip(c, Request.of(Command.BLOCK_STATUS, Set.of(), 7, 0, 4096))))
                .isEqualTo(Errno.EINVAL.wire());
        assertThat(errnoOf(roundTrip(c, Request.of(Command.CACHE, Set.of(), 8, 0, 4096))))
                .isEqualTo(Errno.EINVAL.wire());
        StructuredChunk err = (StructuredChunk) roundTrip(c, Request.read(9, -1, 1));
        assertThat(err.errorMessage()).isEqualTo("operation past EOF");
        mem.failReadsWith(off -> new NbdIoException(IoErrorKind.IO, "medium error at " + off));
        // DF: a sparse read of this unallocated range would answer with a hole without reading
        StructuredChunk io = (StructuredChunk) roundTrip(c, Request.of(Command.READ, Set.of(CommandFlag.DF), 10,
                4096, 512));
        assertThat(io.errno()).isEqualTo(Errno.EIO.wire());
        assertThat(io.errorMessage()).isEqualTo("medium error at 4096");
        mem.failReadsWith(off -> null);
        // still serving
        assertThat(errnoOf(roundTrip(c, Request.write(11, 0, ByteBuffer.wrap(new byte[] {7}), Set.of())))).isZero();
        assertThat(mem.snapshot()[0]).isEqualTo((byte) 7);
        assertThat(mem.snapshot()[SIZE - 1]).isZero(); // the refused writes changed nothing

        TestClient r = client().open("ro", false, List.of());
        assertThat(roundTrip(r, Request.write(1, 0, ByteBuffer.allocate(4), Set.of())))
                .isEqualTo(new SimpleReply(Errno.EPERM.wire(), 1, null));
        assertThat(errnoOf(roundTrip(r, Request.of(Command.TRIM, Set.of(), 2, 0, 4096)))).isEqualTo(Errno.EPERM.wire());
        assertThat(errnoOf(roundTrip(r, Request.read(3, 0, 4)))).isZero();
    }

    @Test
    void oversizedWriteIsAnsweredWithEoverflowAndTheStreamStaysInStep() throws Exception {
        MemoryBackend mem = new MemoryBackend(SIZE);
        start(local(), NbdExport.writable("rw", mem));
        TestClient c = client().open("rw", false, List.of());
        int len = NbdProtocol.MAX_BUFFER_SIZE + 1;
        c.write(new Request(0, 1, 1, 0, len, null).encode());
        ByteBuffer junk = ByteBuffer.allocate(1 << 20);
        for (int sent = 0; sent < len; ) {
            junk.clear().limit(Math.min(junk.capacity(), len - sent));
            sent += junk.remaining();
            c.write(junk);
        }
        assertThat(c.reply()).isEqualTo(new SimpleReply(Errno.EOVERFLOW.wire(), 1, null));
        assertThat(errnoOf(roundTrip(c, Request.read(2, 0, 16)))).isZero();
    }

    @Test
    void pipelinedWritesOfEverySizeLandIntactThroughThePooledPayloadBuffers(@TempDir Path dir) throws Exception {
        int size = 40 << 20;
        MemoryBackend mem = new MemoryBackend(size);
        // UNIX: the socket buffers are grown there; more writes than requests in flight, so buffers are reused
        start(NbdServerConfig.unix(dir.resolve("s.sock")), NbdExport.writable("rw", mem));
        TestClient c = client().open("rw", false, List.of());
        Random rnd = new Random(11);
        byte[] expected = new byte[size];
        int[] lengths = {1, 4096, 256 << 10, IoBuffers.POOLED, IoBuffers.POOLED + 1, 3 << 20, 65_537, 512};
        int n = 3 * NbdServerConfig.DEFAULT_MAX_IN_FLIGHT;
        int off = 0;
        for (int i = 0; i < n; i++) {
            int len = lengths[i % lengths.length];
            byte[] data = new byte[len];
            rnd.nextBytes(data);
            System.arraycopy(data, 0, expected, off, len);
            // header and payload in one buffer, all sent before any reply is read: the server sees
            // payloads split anywhere, and writes complete in any order (their ranges do not overlap)
            c.write(Request.write(i, off, ByteBuffer.wrap(data), Set.of()).encode());
            off += len;
        }
        Set<Long> answered = new java.util.HashSet<>();
        for (int i = 0; i < n; i++) {
            Reply r = c.reply();
            assertThat(errnoOf(r)).as("reply to %d", r.cookie()).isZero();
            answered.add(r.cookie());
        }
        assertThat(answered).hasSize(n);
        assertThat(Arrays.equals(mem.snapshot(), expected)).isTrue();
    }

    @Test
    void readsComeBackAsDataAndHoleChunksUnlessDontFragment() throws Exception {
        MemoryBackend mem = new MemoryBackend(SIZE).fill(0, 4096, (byte) 1).fill(3 * 4096, 4096, (byte) 2);
        start(local(), NbdExport.writable("rw", mem));
        TestClient c = client().open("rw", true, List.of());
        c.send(Request.read(1, 0, 4 * 4096));
        List<StructuredChunk> chunks = new ArrayList<>();
        do {
            chunks.add((StructuredChunk) c.reply());
        } while (!chunks.getLast().done());
        assertThat(chunks).extracting(StructuredChunk::type)
                .containsExactly(ReplyType.OFFSET_DATA, ReplyType.OFFSET_HOLE, ReplyType.OFFSET_DATA);
        assertThat(chunks.get(1).offset()).isEqualTo(4096);
        assertThat(chunks.get(1).holeLength()).isEqualTo(2 * 4096);
        assertThat(chunks.get(2).offset()).isEqualTo(3 * 4096);
        byte[] expected = new byte[4096];
        Arrays.fill(expected, (byte) 2);
        assertThat(chunks.get(2).data()).isEqualTo(ByteBuffer.wrap(expected));

        c.send(Request.of(Command.READ, Set.of(CommandFlag.DF), 2, 0, 4 * 4096));
        StructuredChunk whole = (StructuredChunk) c.reply();
        assertThat(whole.done()).isTrue();
        assertThat(whole.type()).isEqualTo(ReplyType.OFFSET_DATA);
        assertThat(whole.data()).isEqualTo(ByteBuffer.wrap(mem.snapshot(), 0, 4 * 4096));

        assertThat(roundTrip(c, Request.read(3, 0, 0))).isEqualTo(StructuredChunk.none(3));
    }

    /** The chunks of one structured reply. */
    private static List<StructuredChunk> chunks(TestClient c) throws IOException {
        List<StructuredChunk> chunks = new ArrayList<>();
        do {
            chunks.add((StructuredChunk) c.reply());
        } while (!chunks.getLast().done());
        return chunks;
    }

    @Test
    void sequentialReadsOfADataRangeAskForItsAllocationOnceAndAStaleRangeStillReadsRight() throws Exception {
        int size = 8 << 20;
        int data = 4 << 20;
        MemoryBackend mem = new MemoryBackend(size).fill(0, data, (byte) 7);
        start(local(), NbdExport.writable("rw", mem));
        TestClient c = client().open("rw", true, List.of());
        int len = 64 << 10;
        for (int off = 0; off < data; off += len) {
            c.send(Request.read(off, off, len));
            List<StructuredChunk> got = chunks(c);
            assertThat(got).extracting(StructuredChunk::type).containsExactly(ReplyType.OFFSET_DATA);
            assertThat(got.getFirst().data()).isEqualTo(ByteBuffer.wrap(mem.snapshot(), off, len));
        }
        assertThat(mem.blockStatusCalls()).isEqualTo(1);
        // past the data range: asked again, and holes are still answered as holes
        c.send(Request.read(1, data - 4096, 8192));
        assertThat(chunks(c)).extracting(StructuredChunk::type)
                .containsExactly(ReplyType.OFFSET_DATA, ReplyType.OFFSET_HOLE);
        assertThat(mem.blockStatusCalls()).isGreaterThan(1);
        // the remembered range became a hole: it is read as data, and reads back as zeroes all the same
        c.send(Request.read(2, 0, 1)); // remember [0, 4 MiB) again
        chunks(c);
        assertThat(errnoOf(roundTrip(c, Request.of(Command.TRIM, Set.of(), 3, 0, 1 << 20)))).isZero();
        c.send(Request.read(4, 0, len));
        List<StructuredChunk> stale = chunks(c);
        assertThat(stale).extracting(StructuredChunk::type).containsExactly(ReplyType.OFFSET_DATA);
        assertThat(stale.getFirst().data()).isEqualTo(ByteBuffer.allocate(len));
    }

    /**
     * Random reads over data: each read elsewhere asks for the allocation ahead of it, and the data
     * ranges found are joined while they overlap or meet (else the longer is kept), so once they
     * cover the disk no read asks again (a qcow2 node's status costs time in proportion to the
     * range asked).
     */
    @Test
    void randomReadsOverDataJoinTheRangesFoundAndStopAsking(@TempDir Path dir) throws Exception {
        long mib = 1 << 20;
        long ahead = Transmission.STATUS_LOOKAHEAD / mib;
        Path image = dir.resolve("sparse.raw");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(8 * ahead * mib); // a hole: nothing is written, the backend calls it all data
        }
        FileBackend allData = new FileBackend(image);
        start(local(), NbdExport.readOnly("ro", allData));
        TestClient c = client().open("ro", true, List.of());
        // MiB offsets and how often the allocation was asked for after the read at each
        long[][] steps = {{0, 1}, {3 * ahead, 2}, {ahead / 2, 2}, {ahead + ahead / 2, 3}, {ahead, 4},
                {ahead + ahead / 2, 4}, {3 * ahead, 5}, {2 * ahead - 1, 5}, {2 * ahead, 6}, {3 * ahead - 1, 6},
                {3 * ahead, 7}};
        long cookie = 0;
        for (long[] step : steps) {
            c.send(Request.read(cookie++, step[0] * mib, 4096));
            assertThat(chunks(c)).extracting(StructuredChunk::type).containsExactly(ReplyType.OFFSET_DATA);
            assertThat(allData.blockStatusCalls()).as("status queries after the read at %d MiB", step[0])
                    .isEqualTo((int) step[1]);
        }
        Random rnd = new Random(3);
        for (int i = 0; i < 200; i++) {
            c.send(Request.read(cookie++, rnd.nextLong(4 * ahead * mib - 4096), 4096));
            chunks(c);
        }
        assertThat(allData.blockStatusCalls()).as("status queries once the ranges joined over [0, %d MiB)", 4 * ahead)
                .isEqualTo(7);
        allData.close();
    }

    @Test
    void blockStatusForEveryContextAndReqOne() throws Exception {
        MemoryBackend mem = new MemoryBackend(SIZE).fill(0, 8192, (byte) 1);
        start(local(), new NbdExport("rw", "", true, mem, List.of(MemoryBackend.BITMAP), true));
        TestClient c = client().open("rw", true, List.of("base:allocation", "qemu:dirty-bitmap:dirty0"));
        assertThat(errnoOf(roundTrip(c, Request.write(1, 4096, ByteBuffer.allocate(4096), Set.of())))).isZero();
        c.send(Request.of(Command.BLOCK_STATUS, Set.of(), 2, 0, 4 * 4096));
        StructuredChunk base = (StructuredChunk) c.reply();
        StructuredChunk dirty = (StructuredChunk) c.reply();
        assertThat(base.contextId()).isZero();
        assertThat(base.done()).isFalse();
        assertThat(base.extents()).containsExactly(Extent.data(8192), Extent.hole(8192));
        assertThat(dirty.contextId()).isEqualTo(1);
        assertThat(dirty.done()).isTrue();
        assertThat(dirty.extents()).containsExactly(Extent.clean(4096), Extent.dirty(4096), Extent.clean(8192));
        c.send(Request.of(Command.BLOCK_STATUS, Set.of(CommandFlag.REQ_ONE), 3, 4096, 3 * 4096));
        assertThat(((StructuredChunk) c.reply()).extents()).containsExactly(Extent.data(4096));
        assertThat(((StructuredChunk) c.reply()).extents()).containsExactly(Extent.dirty(4096));
    }

    @Test
    void pipelinedRequestsAreAnsweredOutOfOrder() throws Exception {
        GatedBackend gated = new GatedBackend(new MemoryBackend(SIZE).fill(0, SIZE, (byte) 9), 0, false);
        start(local(), NbdExport.writable("rw", gated));
        TestClient c = client().open("rw", false, List.of());
        c.send(Request.read(1, 0, 4096));     // waits at the gate
        c.send(Request.read(2, 8192, 4096));  // overtakes it
        Reply first = c.reply();
        assertThat(first.cookie()).isEqualTo(2);
        gated.gate.countDown();
        Reply second = c.reply();
        assertThat(second.cookie()).isEqualTo(1);
        assertThat(((SimpleReply) second).data().get(0)).isEqualTo((byte) 9);
    }

    @Test
    void requestsInFlightAreBounded() throws Exception {
        GatedBackend gated = new GatedBackend(new MemoryBackend(SIZE), -1, true);
        start(local().withMaxInFlight(2), NbdExport.writable("rw", gated));
        TestClient c = client().open("rw", false, List.of());
        for (int i = 0; i < 6; i++) {
            c.send(Request.read(i, i * 4096L, 4096));
        }
        await().atMost(TestTimeouts.MEDIUM).until(() -> gated.inProgress.get() == 2);
        gated.gate.countDown();
        List<Long> cookies = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            cookies.add(c.reply().cookie());
        }
        assertThat(cookies).containsExactlyInAnyOrder(0L, 1L, 2L, 3L, 4L, 5L);
        assertThat(gated.maxInProgress.get()).isEqualTo(2);
    }

    @Test
    void multiConnWritesAreVisibleAcrossConnectionsAfterFlush() throws Exception {
        MemoryBackend mem = new MemoryBackend(SIZE);
        start(local(), NbdExport.writable("rw", mem));
        TestClient a = client().open("rw", true, List.of());
        TestClient b = client().open("rw", true, List.of());
        assertThat(a.transmissionFlags & NbdProtocol.TransmissionFlag.CAN_MULTI_CONN.code()).isNotZero();
        byte[] data = new byte[8192];
        new Random(1).nextBytes(data);
        assertThat(errnoOf(roundTrip(a, Request.write(1, 4096, ByteBuffer.wrap(data), Set.of(CommandFlag.FUA)))))
                .isZero();
        assertThat(errnoOf(roundTrip(a, Request.of(Command.FLUSH, Set.of(), 2, 0, 0)))).isZero();
        StructuredChunk read = (StructuredChunk) roundTrip(b, Request.of(Command.READ, Set.of(CommandFlag.DF), 3,
                4096, 8192));
        assertThat(read.data()).isEqualTo(ByteBuffer.wrap(data));
        assertThat(mem.flushes()).isEqualTo(1);
    }

    @Test
    void aFlushOnOneConnectionCoversWritesAnotherConnectionSawCompleted() throws Exception {
        // what CAN_MULTI_CONN promises: the backend's flush is global and a WRITE is answered only after
        // the backend took it, so the order seen by the backend is write, then flush
        List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        MemoryBackend mem = new MemoryBackend(SIZE) {
            @Override
            public void write(long offset, ByteBuffer src, boolean fua) {
                super.write(offset, src, fua);
                events.add("write " + offset);
            }

            @Override
            public void flush() {
                events.add("flush");
                super.flush();
            }
        };
        start(local(), NbdExport.writable("rw", mem));
        TestClient a = client().open("rw", true, List.of());
        TestClient b = client().open("rw", true, List.of());
        assertThat(b.transmissionFlags & NbdProtocol.TransmissionFlag.CAN_MULTI_CONN.code()).isNotZero();
        assertThat(errnoOf(roundTrip(a, Request.write(1, 8192, ByteBuffer.wrap(new byte[] {5, 6}), Set.of()))))
                .isZero();
        assertThat(errnoOf(roundTrip(b, Request.of(Command.FLUSH, Set.of(), 2, 0, 0)))).isZero();
        assertThat(events).containsExactly("write 8192", "flush");
        assertThat(Arrays.copyOfRange(mem.snapshot(), 8192, 8194)).isEqualTo(new byte[] {5, 6});
    }

    @Test
    void disconnectAnswersWhatIsInFlightFirst() throws Exception {
        GatedBackend gated = new GatedBackend(new MemoryBackend(SIZE), 0, false);
        start(local(), NbdExport.writable("rw", gated));
        TestClient c = client().open("rw", false, List.of());
        c.send(Request.read(1, 0, 4096));
        c.send(Request.disconnect(2));
        await().atMost(TestTimeouts.MEDIUM).until(() -> gated.inProgress.get() == 1);
        gated.gate.countDown();
        assertThat(c.reply().cookie()).isEqualTo(1);
        assertThat(c.closedByServer()).isTrue();
        await().atMost(TestTimeouts.MEDIUM).until(() -> server.connectionCount() == 0);
    }

    @Test
    void garbageAndVanishingClientsEndOnlyTheirOwnConnection() throws Exception {
        MemoryBackend mem = new MemoryBackend(SIZE);
        start(local(), NbdExport.writable("rw", mem));
        TestClient good = client().open("rw", true, List.of());

        TestClient garbage = client();
        garbage.start();
        garbage.write(ByteBuffer.wrap("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes()));
        assertThat(garbage.closedByServer()).isTrue();

        TestClient badFlags = client();
        badFlags.read(dev.converge.nbd.wire.ServerGreeting::decode);
        badFlags.write(ByteBuffer.wrap(new byte[] {0, 0, 0, (byte) 0xff}));
        assertThat(badFlags.closedByServer()).isTrue();

        TestClient badMagic = client().open("rw", false, List.of());
        badMagic.write(ByteBuffer.wrap(new byte[28]));
        assertThat(badMagic.closedByServer()).isTrue();

        TestClient vanishing = client().open("rw", false, List.of());
        byte[] pattern = new byte[65536];
        Arrays.fill(pattern, (byte) 0x5a);
        ByteBuffer half = Request.write(1, 0, ByteBuffer.wrap(pattern), Set.of()).encode();
        half.limit(28 + 30000);
        vanishing.write(half);
        vanishing.close();

        TestClient midHandshake = client();
        midHandshake.start();
        midHandshake.write(ByteBuffer.wrap(new byte[] {0x49, 0x48, 0x41}));
        midHandshake.close();

        await().atMost(TestTimeouts.MEDIUM).until(() -> server.connectionCount() == 1);
        byte[] data = {1, 2, 3};
        assertThat(errnoOf(roundTrip(good, Request.write(5, 100_000, ByteBuffer.wrap(data), Set.of())))).isZero();
        assertThat(Arrays.copyOfRange(mem.snapshot(), 100_000, 100_003)).isEqualTo(data);
        // the half write (at 0, 0x5a) never reached the backend, not even its first 30000 bytes
        assertThat(Arrays.copyOfRange(mem.snapshot(), 0, 30000)).containsOnly((byte) 0);
    }

    @Test
    void connectionsBeyondMaxWaitInTheBacklogUntilASlotFrees() throws Exception {
        start(local().withMaxConnections(1), NbdExport.writable("rw", new MemoryBackend(SIZE).fill(0, 8, (byte) 3)));
        TestClient first = client().open("rw", false, List.of());
        TestClient second = client(); // connected by the kernel, not accepted yet: no greeting
        second.channel.configureBlocking(false);
        assertThat(second.channel.read(ByteBuffer.allocate(1))).isZero();
        second.channel.configureBlocking(true);
        assertThat(errnoOf(roundTrip(first, Request.read(1, 0, 8)))).isZero();
        first.send(Request.disconnect(2));
        assertThat(first.closedByServer()).isTrue();
        second.open("rw", false, List.of());
        SimpleReply r = (SimpleReply) roundTrip(second, Request.read(3, 0, 8));
        assertThat(r.data()).isEqualTo(ByteBuffer.wrap(new byte[] {3, 3, 3, 3, 3, 3, 3, 3}));
    }

    @Test
    void closeEndsEveryConnectionAndJoinsItsThreads() throws Exception {
        GatedBackend gated = new GatedBackend(new MemoryBackend(SIZE), 0, false);
        start(local(), NbdExport.writable("rw", gated));
        TestClient busy = client().open("rw", false, List.of());
        TestClient idle = client();
        idle.start();
        busy.send(Request.read(1, 0, 4096));
        await().atMost(TestTimeouts.MEDIUM).until(() -> gated.inProgress.get() == 1);
        Thread closer = Thread.ofVirtual().start(server::close);
        gated.gate.countDown(); // the in-flight request ends; close() waits for it
        closer.join(TestTimeouts.MEDIUM);
        assertThat(closer.isAlive()).isFalse();
        assertThat(server.connectionCount()).isZero();
        assertThat(idle.closedByServer()).isTrue();
    }

    @Test
    void exportsCanBeAddedAndRemovedWhileServing() throws Exception {
        start(local());
        server.addExport(NbdExport.writable("a", new MemoryBackend(4096)));
        assertThat(server.exports()).extracting(NbdExport::name).containsExactly("a");
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> server.addExport(NbdExport.writable("a", new MemoryBackend(4096))))
                .hasMessage("export 'a' already exists");
        assertThat(server.removeExport("a")).isTrue();
        TestClient c = client();
        c.start();
        var replies = c.option(dev.converge.nbd.wire.OptionRequest.go("a", List.of()));
        assertThat(replies.getLast().type()).isEqualTo(NbdProtocol.OptionReplyType.ERR_UNKNOWN);
    }
}
