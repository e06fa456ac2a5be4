package dev.converge.qmp.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.testing.Pki;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TLS connection of migration channels: a handshake is bounded, and a writer's orderly close
 * delivers everything it wrote even though the TLS 1.3 server sent session tickets it never read.
 */
@Tag("integration")
class SecureChannelTest {
    @TempDir
    Path dir;
    private SSLContext client;
    private SSLContext server;

    @BeforeEach
    void setUp() throws Exception {
        Pki.generate(dir);
        client = TlsContexts.fromDirectory(dir, TlsContexts.Endpoint.CLIENT);
        server = TlsContexts.fromDirectory(dir, TlsContexts.Endpoint.SERVER);
    }

    private static ServerSocketChannel listen() throws IOException {
        return ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    @Test
    void aPeerThatNeverAnswersTheHandshakeTimesOutWithAClearError() throws Exception {
        try (ServerSocketChannel l = listen(); SocketChannel ch = SocketChannel.open(l.getLocalAddress());
                SocketChannel silent = l.accept()) {
            assertThatThrownBy(() -> SecureChannel.client(ch, client, "localhost", Duration.ofMillis(300)))
                    .isInstanceOf(IOException.class)
                    .hasMessage("TLS handshake failed: no TLS handshake within 300 ms (handshake timeout)");
            assertThat(ch.isOpen()).as("the socket is closed").isFalse();
            ByteBuffer b = ByteBuffer.allocate(64 << 10);
            while (silent.read(b.clear()) >= 0) {
                // the client hello, if the client got that far before the timeout
            }
            assertThat(silent.read(b.clear())).as("the client closed").isEqualTo(-1);
        }
    }

    @Test
    void aServerWhoseClientSaysNothingTimesOutToo() throws Exception {
        try (ServerSocketChannel l = listen(); SocketChannel quiet = SocketChannel.open(l.getLocalAddress());
                SocketChannel ch = l.accept()) {
            assertThatThrownBy(() -> SecureChannel.server(ch, server, true, Duration.ofMillis(300)))
                    .hasMessage("TLS handshake failed: no TLS handshake within 300 ms (handshake timeout)");
            assertThat(quiet.read(ByteBuffer.allocate(16))).as("the server closed").isEqualTo(-1);
        }
    }

    @Test
    void aWritersOrderlyCloseDeliversEverythingAndEndsTheStreamCleanly() throws Exception {
        byte[] data = new byte[8 << 20];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 31 + (i >>> 12));
        }
        try (ServerSocketChannel l = listen()) {
            CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(() -> {
                try (SocketChannel raw = l.accept(); SecureChannel in = SecureChannel.server(raw, server, true)) {
                    ByteBuffer all = ByteBuffer.allocate(data.length + 1);
                    while (in.read(all) >= 0) {
                        if (!all.hasRemaining()) {
                            break;
                        }
                    }
                    return java.util.Arrays.copyOf(all.array(), all.position());
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            SecureChannel out = SecureChannel.client(SocketChannel.open(l.getLocalAddress()), client, "localhost");
            ByteBuffer b = ByteBuffer.wrap(data);
            while (b.hasRemaining()) {
                out.write(b);
            }
            out.closeGracefully(TestTimeouts.MEDIUM);
            assertThat(out.isOpen()).isFalse();
            assertThat(received.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(data);
        }
    }
}
