package dev.converge.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.nbd.wire.NbdProtocol.Errno;
import dev.converge.nbd.wire.Request;
import dev.converge.nbd.wire.ServerGreeting;
import dev.converge.nbd.wire.SimpleReply;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hostile-client probes of issue 14 as tests, scaled down to fit a test run: clients that never
 * read their replies, connections that never handshake, a burst of connects, and UNIX socket files
 * (mode, stale, live).
 */
class NbdServerLimitsTest {
    private static final int MIB = 1 << 20;
    private static final int BIG = NbdProtocol.MAX_BUFFER_SIZE;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : toClose.reversed()) {
            c.close();
        }
    }

    private NbdServer start(NbdServerConfig config, RequestMemory memory, NbdExport export) throws IOException {
        NbdServer s = NbdServer.start(config, memory);
        toClose.add(s);
        s.addExport(export);
        return s;
    }

    private TestClient client(NbdServer s) throws IOException {
        return client(s, 40 << 20);
    }

    private TestClient client(NbdServer s, int bufferSize) throws IOException {
        TestClient c = TestClient.connect(s.localAddress(), bufferSize);
        toClose.add(c);
        return c;
    }

    private static MemoryBackend pattern(int size) {
        MemoryBackend m = new MemoryBackend(size);
        for (int i = 0; i < size; i += 4096) {
            m.fill(i, 4096, (byte) (i / 4096 * 7 + 1));
        }
        return m;
    }

    /** A client that sends 24 reads of 32 MiB and never reads a reply (the probe's attacker). */
    private TestClient hog(NbdServer s) throws IOException {
        TestClient c = client(s, 4096).open("disk", false, List.of());
        ByteBuffer burst = ByteBuffer.allocate(24 * NbdProtocol.REQUEST_HEADER_SIZE);
        for (int i = 0; i < 24; i++) {
            burst.put(Request.read(i, 0, BIG).encode());
        }
        c.write(burst.flip());
        return c;
    }

    private static void assertReadsPattern(TestClient c, MemoryBackend source, long cookie, int len)
            throws IOException {
        c.send(Request.read(cookie, 0, len));
        SimpleReply r = (SimpleReply) c.reply();
        assertThat(r.cookie()).isEqualTo(cookie);
        assertThat(r.error()).isZero();
        assertThat(r.data()).isEqualTo(ByteBuffer.wrap(source.snapshot(), 0, len));
    }

    @Test
    void clientsThatNeverReadRepliesHoldTheirShareOnlyAndANormalClientIsServed() throws Exception {
        RequestMemory memory = new RequestMemory(4L * BIG + 2L * BIG, 4); // room for 2 hogs and one more
        MemoryBackend source = pattern(BIG);
        NbdServer s = start(NbdServerConfig.tcp("127.0.0.1", 0), memory, NbdExport.writable("disk", source));
        TestClient first = hog(s);
        TestClient second = hog(s);
        // each hog holds its share (two 32 MiB reads) and no more, however many it sent
        await().atMost(TestTimeouts.MEDIUM).until(() -> memory.used() >= 4L * BIG);
        assertThat(memory.used()).isLessThanOrEqualTo(4L * BIG + memory.poolLimit() * (long) RequestMemory.POOLED);

        TestClient normal = client(s).open("disk", false, List.of());
        assertReadsPattern(normal, source, 100, BIG);
        assertReadsPattern(normal, source, 101, 4096);

        first.close();
        second.close();
        await().atMost(TestTimeouts.MEDIUM).until(() -> s.connectionCount() == 1);
        memory.trim();
        await().atMost(TestTimeouts.MEDIUM).until(() -> memory.used() == 0); // freed, not left to the GC
    }

    @Test
    void aRequestTheBudgetHasNoRoomForIsAnsweredEnomemAndTheConnectionGoesOn() throws Exception {
        RequestMemory memory = new RequestMemory(RequestMemory.MIN_CAPACITY, 1);
        MemoryBackend source = pattern(BIG);
        NbdServerConfig config = NbdServerConfig.tcp("127.0.0.1", 0)
                .withConnectionMemory(NbdServerConfig.DEFAULT_CONNECTION_MEMORY, Duration.ofMillis(100));
        NbdServer s = start(config, memory, NbdExport.writable("disk", source));
        TestClient hog = hog(s);
        await().atMost(TestTimeouts.MEDIUM).until(() -> memory.used() == RequestMemory.MIN_CAPACITY);

        TestClient normal = client(s).open("disk", true, List.of()); // one 40 MiB reader is enough
        normal.send(Request.read(1, 0, BIG));
        var refused = (dev.converge.nbd.wire.StructuredChunk) normal.reply();
        assertThat(refused.cookie()).isEqualTo(1);
        assertThat(refused.errno()).isEqualTo(Errno.ENOMEM.wire());
        // a WRITE refused for memory is read past: the stream stays in step
        normal.send(Request.write(2, 0, ByteBuffer.allocate(4096), java.util.Set.of()));
        assertThat(normal.reply().cookie()).isEqualTo(2);

        hog.close();
        await().atMost(TestTimeouts.MEDIUM).until(() -> memory.used() <= RequestMemory.POOLED);
        normal.send(Request.of(NbdProtocol.Command.READ, java.util.Set.of(NbdProtocol.CommandFlag.DF), 3, 0, BIG));
        var data = (dev.converge.nbd.wire.StructuredChunk) normal.reply();
        assertThat(data.cookie()).isEqualTo(3);
        assertThat(data.data()).isEqualTo(ByteBuffer.wrap(source.snapshot(), 0, BIG));
    }

    @Test
    void idleHandshakesAreDroppedSoTheyCannotLockRealClientsOut() throws Exception {
        MemoryBackend source = pattern(MIB);
        // The real client's whole negotiation must fit in the timeout: not too short for a loaded machine.
        NbdServerConfig config = NbdServerConfig.tcp("127.0.0.1", 0).withMaxConnections(10)
                .withHandshakeTimeout(TestTimeouts.scaled(Duration.ofSeconds(2)));
        NbdServer s = start(config, RequestMemory.SHARED, NbdExport.writable("disk", source));
        List<TestClient> idle = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            TestClient c = client(s, 4096);
            c.read(ServerGreeting::decode); // accepted, greeted, and then silent
            idle.add(c);
        }
        TestClient real = client(s); // waits in the backlog until an idle one is dropped
        real.open("disk", false, List.of());
        assertReadsPattern(real, source, 1, 65536);
        for (TestClient c : idle) {
            assertThat(c.closedByServer()).isTrue();
        }
        await().atMost(TestTimeouts.MEDIUM).until(() -> s.connectionCount() == 1);
    }

    @Test
    void manyNeverHandshakingConnectionsHoldNoPlatformThreadAndAreClosed() throws Exception {
        // All 300 must be connected before the first is dropped: room for a loaded machine's connects.
        NbdServerConfig config = NbdServerConfig.tcp("127.0.0.1", 0).withMaxConnections(1000)
                .withHandshakeTimeout(TestTimeouts.scaled(Duration.ofSeconds(5)));
        NbdServer s = start(config, RequestMemory.SHARED, NbdExport.writable("disk", new MemoryBackend(MIB)));
        List<TestClient> silent = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            silent.add(client(s, 4096));
        }
        await().atMost(TestTimeouts.MEDIUM).until(() -> s.connectionCount() == 300);
        // Thread.getAllStackTraces lists platform threads only: the handshakes run on virtual ones
        long platform = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("nbd-conn-")).count();
        assertThat(platform).isZero();
        await().atMost(TestTimeouts.MEDIUM).until(() -> s.connectionCount() == 0);
        for (TestClient c : silent) {
            c.read(ServerGreeting::decode);
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void aBurstOfSimultaneousConnectsIsServedInFull() throws Exception {
        MemoryBackend source = pattern(MIB);
        NbdServer s = start(NbdServerConfig.tcp("127.0.0.1", 0), RequestMemory.SHARED,
                NbdExport.writable("disk", source));
        int n = 200;
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Callable<Boolean>> tasks = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                long cookie = i;
                tasks.add(() -> {
                    try (TestClient c = TestClient.connect(s.localAddress(), 64 << 10)) {
                        c.open("disk", false, List.of());
                        assertReadsPattern(c, source, cookie, 8192);
                        c.send(Request.disconnect(cookie + 1000));
                        return true;
                    }
                });
            }
            for (Future<Boolean> f : pool.invokeAll(tasks)) {
                assertThat(f.get()).isTrue();
            }
        }
        assertThat(dev.converge.qmp.net.ListeningSocket.backlog()).isGreaterThanOrEqualTo(n);
    }

    @Test
    void unixSocketGetsItsModeAndStaleFilesAreReplacedButLiveOnesNever(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("nbd.sock");
        // a socket file left by a process killed with -9: bound, never unlinked, nobody listening
        ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        dead.bind(UnixDomainSocketAddress.of(sock));
        dead.close();
        assertThat(sock).exists();

        MemoryBackend source = pattern(MIB);
        NbdServer s = start(NbdServerConfig.unix(sock), RequestMemory.SHARED, NbdExport.writable("disk", source));
        assertThat(s.localAddress()).isEqualTo(UnixDomainSocketAddress.of(sock));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sock))).isEqualTo("rw-------");
        try (Stream<Path> left = Files.list(dir)) {
            assertThat(left).containsExactly(sock); // the private bind directory is gone
        }
        TestClient c = client(s).open("disk", false, List.of());
        assertReadsPattern(c, source, 1, 4096);

        // a live socket is never taken over, and its server keeps serving
        assertThatThrownBy(() -> NbdServer.start(NbdServerConfig.unix(sock), RequestMemory.SHARED))
                .isInstanceOf(IOException.class).hasMessageContaining("Address already in use");
        assertReadsPattern(client(s).open("disk", false, List.of()), source, 2, 4096);

        // a file that is not a socket is left alone
        Path plain = dir.resolve("plain");
        Files.writeString(plain, "data");
        assertThatThrownBy(() -> NbdServer.start(NbdServerConfig.unix(plain), RequestMemory.SHARED))
                .isInstanceOf(IOException.class).hasMessageContaining("not a socket");
        assertThat(Files.readString(plain)).isEqualTo("data");

        // the mode the user asks for
        Path shared = dir.resolve("group.sock");
        try (NbdServer g = NbdServer.start(NbdServerConfig.unix(shared)
                .withUnixSocketMode(PosixFilePermissions.fromString("rw-rw----")), RequestMemory.SHARED)) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(shared))).isEqualTo("rw-rw----");
        }
        assertThat(shared).doesNotExist();
    }
}
