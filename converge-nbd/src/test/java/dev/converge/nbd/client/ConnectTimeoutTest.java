package dev.converge.nbd.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The client's connect and handshake are bounded: a server that never speaks fails the connect. */
class ConnectTimeoutTest {
    @Test
    void aServerThatNeverSpeaksFailsTheConnectAfterTheTimeout() throws Exception {
        try (ServerSocketChannel silent = ServerSocketChannel.open()
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            NbdClientConfig c = NbdClientConfig.of(silent.getLocalAddress(), "x").withConnectTimeout(Duration.ofMillis(300));
            assertThatThrownBy(() -> new NbdClient(c)).isInstanceOf(SocketTimeoutException.class)
                    .hasMessage("no NBD handshake with " + silent.getLocalAddress() + " within 300 ms (connect timeout)");
        }
    }

    @Test
    void theDefaultIsTenSecondsAndAZeroTimeoutIsRefused() {
        NbdClientConfig c = NbdClientConfig.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), 1), "");
        assertThat(c.connectTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThatThrownBy(() -> c.withConnectTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("connectTimeout: PT0S (expected: > 0)");
    }
}
