package dev.converge.nbd.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.nbd.server.NbdExport;
import dev.converge.nbd.server.NbdServer;
import dev.converge.nbd.server.NbdServerConfig;
import dev.converge.nbd.testing.Peers;
import dev.converge.testing.Pki;
import dev.converge.nbd.transport.NbdTlsConfig;
import dev.converge.nbd.wire.Extent;
import dev.converge.nbd.wire.IoErrorKind;
import dev.converge.nbd.wire.NbdIoException;
import dev.converge.testing.TestTimeouts;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client against qemu-nbd, nbdkit and our own server (plain and TLS), and its reconnect. */
@Tag("integration")
class NbdClientTest {
    private static final int SIZE = 8 << 20;

    @TempDir
    Path dir;
    private final List<Process> processes = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : closeables.reversed()) {
            c.close();
        }
        for (Process p : processes) {
            p.destroy();
            if (!p.waitFor(TestTimeouts.SHORT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly().waitFor();
            }
        }
    }

    private Path startPeer(String... command) throws Exception {
        Peers.assume(command[0]);
        Path sock = Path.of(command[2]); // -k/-U SOCKET comes first in every call
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve(command[0] + ".log").toFile()).start();
        processes.add(p);
        Awaitility.await().atMost(TestTimeouts.MEDIUM).until(() -> Files.exists(sock) || !p.isAlive());
        assertThat(p.isAlive()).as(command[0] + " exited: " + Files.readString(dir.resolve(command[0] + ".log")))
                .isTrue();
        return sock;
    }

    private NbdClient client(NbdClientConfig config) throws Exception {
        NbdClient c = new NbdClient(config);
        closeables.add(c);
        return c;
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Writes, zeroes, trims, flushes and reads back through {@code c}, checking every byte. */
    private static void exercise(NbdClient c) throws Exception {
        assertThat(c.size()).isEqualTo(SIZE);
        byte[] data = random(6 << 20, 1); // larger than MAX_REQUEST: split and pipelined
        c.write(4096, ByteBuffer.wrap(data), false);
        c.write(0, ByteBuffer.wrap(new byte[] {1, 2, 3}), true);
        c.writeZeroes(1 << 20, 65536, true, false);
        c.flush();
        byte[] expect = new byte[SIZE];
        System.arraycopy(data, 0, expect, 4096, data.length);
        expect[0] = 1;
        expect[1] = 2;
        expect[2] = 3;
        Arrays.fill(expect, 1 << 20, (1 << 20) + 65536, (byte) 0);
        // concurrent readers share the connection
        List<CompletableFuture<byte[]>> reads = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            int off = i * (1 << 20);
            reads.add(CompletableFuture.supplyAsync(() -> {
                ByteBuffer b = ByteBuffer.allocate(1 << 20);
                try {
                    c.read(off, b);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                return b.array();
            }));
        }
        for (int i = 0; i < 8; i++) {
            assertThat(reads.get(i).get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS))
                    .isEqualTo(Arrays.copyOfRange(expect, i << 20, (i + 1) << 20));
        }
        List<Extent> map = c.blockStatus(0, SIZE);
        assertThat(map).isNotEmpty();
        assertThat(map.stream().mapToLong(Extent::length).sum()).isBetween(1L, (long) SIZE);
        c.trim(7 << 20, 4096);
        assertThatThrownBy(() -> c.read(SIZE - 10, ByteBuffer.allocate(20)))
                .isInstanceOf(NbdIoException.class).hasMessageContaining("outside the export");
    }

    @Test
    void againstQemuNbd() throws Exception {
        Path img = dir.resolve("q.raw");
        Files.write(img, new byte[SIZE]);
        Path sock = startPeer("qemu-nbd", "-k", dir.resolve("q.sock").toString(), "-f", "raw", "-t", "-e", "4",
                img.toString());
        exercise(client(NbdClientConfig.of(UnixDomainSocketAddress.of(sock), "")));
    }

    @Test
    void againstNbdkitMemory() throws Exception {
        Path sock = startPeer("nbdkit", "-U", dir.resolve("k.sock").toString(), "-f", "memory", "8M");
        NbdClient c = client(NbdClientConfig.of(UnixDomainSocketAddress.of(sock), ""));
        exercise(c);
        // nbdkit's memory plugin is sparse: a fresh range is a hole
        assertThat(c.blockStatus(7 << 20, 1 << 20).getFirst().flags() & 1).isEqualTo(1);
    }

    @Test
    void againstOurServerAndUnknownExport() throws Exception {
        NbdServer s = NbdServer.start(NbdServerConfig.unix(dir.resolve("o.sock")));
        closeables.add(s);
        s.addExport(NbdExport.writable("disk", new MemoryExport(SIZE)));
        exercise(client(NbdClientConfig.of(s.localAddress(), "disk")));
        assertThatThrownBy(() -> new NbdClient(NbdClientConfig.of(s.localAddress(), "nope")))
                .hasMessageContaining("refused export 'nope'");
    }

    @Test
    void tlsBothWays() throws Exception {
        Path pki = Files.createDirectories(dir.resolve("pki"));
        Pki.generate(pki);
        NbdServer s = NbdServer.start(NbdServerConfig.tcp("127.0.0.1", 0)
                .withTls(NbdTlsConfig.fromDirectory(pki, true, List.of(Pki.CLIENT_DN))));
        closeables.add(s);
        s.addExport(NbdExport.writable("disk", new MemoryExport(SIZE)));
        NbdClientConfig plain = NbdClientConfig.of(s.localAddress(), "disk");
        assertThatThrownBy(() -> new NbdClient(plain)).hasMessageContaining("TLS");
        NbdClientConfig tls = plain.withTls(dev.converge.qmp.tls.TlsContexts.fromDirectory(pki, dev.converge.qmp.tls.TlsContexts.Endpoint.CLIENT), "localhost");
        exercise(client(tls));
        // our client against qemu-nbd with TLS (verify the server's name: SAN DNS:localhost)
        Path img = dir.resolve("t.raw");
        Files.write(img, new byte[SIZE]);
        Path sock = startPeer("qemu-nbd", "-k", dir.resolve("t.sock").toString(), "--object",
                "tls-creds-x509,id=tls0,endpoint=server,verify-peer=off,dir=" + pki, "--tls-creds", "tls0",
                "-e", "4", "-f", "raw", "-t", img.toString());
        NbdClientConfig q = NbdClientConfig.of(UnixDomainSocketAddress.of(sock), "")
                .withTls(dev.converge.qmp.tls.TlsContexts.fromDirectory(pki, dev.converge.qmp.tls.TlsContexts.Endpoint.CLIENT), "localhost");
        exercise(client(q));
        NbdClientConfig wrongName = q.withTls(q.tls(), "not-the-server");
        assertThatThrownBy(() -> new NbdClient(wrongName)).isInstanceOf(java.io.IOException.class);
    }

    @Test
    void requestsWaitForAReconnectWithinTheDelay() throws Exception {
        Path path = dir.resolve("r.sock");
        MemoryExport disk = new MemoryExport(SIZE);
        NbdServer s1 = NbdServer.start(NbdServerConfig.unix(path));
        s1.addExport(NbdExport.writable("disk", disk));
        NbdClient c = client(NbdClientConfig.of(UnixDomainSocketAddress.of(path), "disk")
                .withReconnectDelay(TestTimeouts.MEDIUM));
        c.write(0, ByteBuffer.wrap(new byte[] {9, 9, 9}), true);
        s1.close();
        CompletableFuture<byte[]> read = CompletableFuture.supplyAsync(() -> {
            ByteBuffer b = ByteBuffer.allocate(3);
            try {
                c.read(0, b);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            return b.array();
        });
        NbdServer s2 = NbdServer.start(NbdServerConfig.unix(path));
        closeables.add(s2);
        s2.addExport(NbdExport.writable("disk", disk));
        assertThat(read.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS)).containsExactly(9, 9, 9);
    }

    @Test
    void withoutReconnectDelayRequestsFailAtOnce() throws Exception {
        Path path = dir.resolve("z.sock");
        NbdServer s1 = NbdServer.start(NbdServerConfig.unix(path));
        s1.addExport(NbdExport.writable("disk", new MemoryExport(SIZE)));
        NbdClient c = client(NbdClientConfig.of(UnixDomainSocketAddress.of(path), "disk"));
        s1.close();
        Awaitility.await().atMost(TestTimeouts.MEDIUM).untilAsserted(() ->
                assertThatThrownBy(() -> c.read(0, ByteBuffer.allocate(1)))
                        .isInstanceOfSatisfying(NbdIoException.class,
                                e -> assertThat(e.kind()).isEqualTo(IoErrorKind.IO)));
    }
}
