package dev.converge.qmp.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.sockets.InetSocketAddress;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.sockets.UnixSocketAddress;
import dev.converge.testing.TestTimeouts;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that holds the server without progress is cut off, the others keep being served: one
 * that never reads its replies (write timeout), one that never does its TLS handshake.
 */
class QmpTimeoutsTest {
    private static final Duration SHORT = Duration.ofMillis(300);
    private final QmpRegistry registry = new QmpRegistry();
    private final MainLoop mainLoop = new MainLoop();
    private QmpServer server;

    @BeforeEach
    void setUp() {
        QmpCoreCommands.register(registry, ServerIdentity.CONVERGE);
        String half = "x".repeat(512 << 10);
        registry.register(new CommandSpec("big", CommandSpec.EMPTY, BuiltinType.STR, "Returns 512 KiB of text.", "0.1.0",
                a -> JsonNodeFactory.instance.textNode(half)));
    }

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.close();
        }
        mainLoop.close();
    }

    private static int readToEnd(SocketChannel c) throws Exception {
        try (ExecutorService reader = Executors.newVirtualThreadPerTaskExecutor()) {
            Future<Integer> eof = reader.submit(() -> {
                ByteBuffer buf = ByteBuffer.allocate(64 << 10);
                int n;
                try {
                    do {
                        buf.clear();
                        n = c.read(buf);
                    } while (n >= 0);
                } catch (java.io.IOException e) {
                    return -2; // reset: cut off as well
                }
                return n;
            });
            return eof.get(TestTimeouts.SHORT.toNanos(), TimeUnit.NANOSECONDS);
        }
    }

    @Test
    void aClientThatNeverReadsItsRepliesIsCutOffAndOthersAreServed(@TempDir Path dir) throws Exception {
        // The write timeout holds for the good client's 512 KiB reply too: long enough that a reader
        // starved for a moment on a loaded machine is not cut off with the silent one.
        server = new QmpServer(registry, mainLoop, ServerIdentity.CONVERGE, new QmpServer.Timeouts(Duration.ofSeconds(10),
                TestTimeouts.scaled(Duration.ofSeconds(2))));
        SocketAddress address = server.listen(new UnixSocketAddress(dir.resolve("qmp.sock")));
        try (QmpClient good = QmpClient.connect(address, TestTimeouts.MEDIUM);
                SocketChannel silent = SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            silent.setOption(StandardSocketOptions.SO_RCVBUF, 4096);
            silent.connect(address.resolve());
            await().atMost(TestTimeouts.SHORT).until(() -> server.connectionCount() == 2);
            // Sixteen 512 KiB replies, far more than the sockets buffer; it never reads one.
            silent.write(ByteBuffer.wrap(("{\"execute\": \"qmp_capabilities\"}\n" + "{\"execute\": \"big\"}\n".repeat(16))
                    .getBytes(StandardCharsets.UTF_8)));

            await().atMost(TestTimeouts.MEDIUM).until(() -> server.connectionCount() == 1);
            assertThat(good.execute("query-version").get("qemu").get("major").asInt()).isPositive();
            assertThat(good.execute("big").asText()).hasSize(512 << 10);
            assertThat(readToEnd(silent)).as("cut off").isNegative();
        }
    }

    @Test
    void aTlsClientThatNeverHandshakesIsCutOffAndOthersAreServed(@TempDir Path dir) throws Exception {
        server = new QmpServer(registry, mainLoop, ServerIdentity.CONVERGE, new QmpServer.Timeouts(SHORT, Duration.ofSeconds(30)));
        // The server's credentials never matter: the client does not even send its hello.
        SocketAddress tls = server.listen(InetSocketAddress.of("127.0.0.1", 0),
                new QmpServer.Tls(SSLContext.getDefault(), false));
        SocketAddress plain = server.listen(new UnixSocketAddress(dir.resolve("qmp.sock")));
        try (SocketChannel mute = SocketChannel.open(tls.resolve());
                QmpClient good = QmpClient.connect(plain, TestTimeouts.MEDIUM)) {
            // Not "two connections, then one": the mute one may be cut off before a poll sees two.
            // The end of its stream is the proof that it was.
            await().atMost(TestTimeouts.MEDIUM).until(() -> server.connectionCount() == 1);
            assertThat(readToEnd(mute)).as("cut off").isNegative();
            assertThat(good.execute("query-version").get("qemu").get("major").asInt()).isPositive();
        }
    }
}
