package dev.converge.nbd.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.client.QmpCommandException;
import dev.converge.testing.TestTimeouts;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * blockdev-add with driver nbd to a peer that accepts and never speaks: only that command waits
 * (until the peer goes or the connect timeout passes); every other client, and the QMP service,
 * keep working meanwhile.
 */
@Tag("integration")
class HungPeerTest {
    private NbdQmpFixture f;
    private ServerSocketChannel hung;

    @BeforeEach
    void setUp() throws Exception {
        f = new NbdQmpFixture();
        // Accepts (or leaves the connection in the backlog) and never speaks.
        hung = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    @AfterEach
    void tearDown() throws Exception {
        hung.close();
        f.close();
    }

    @Test
    void aHungNbdPeerDelaysOnlyTheBlockdevAddThatWaitsForIt() throws Exception {
        int port = ((InetSocketAddress) hung.getLocalAddress()).getPort();
        QmpClient waiting = f.qmp.newClient();
        CompletableFuture<JsonNode> add = CompletableFuture.supplyAsync(() -> waiting.execute("blockdev-add",
                NbdQmpFixture.json("{'driver':'nbd','node-name':'remote','server':{'type':'inet','host':'127.0.0.1','port':'"
                        + port + "'},'export':'x'}"), TestTimeouts.MEDIUM));
        SocketChannel accepted = hung.accept(); // the connect arrived: the command now waits for a greeting

        // Meanwhile every other client is served, also with commands that touch the block graph.
        QmpClient other = f.qmp.newClient();
        for (int i = 0; i < 20; i++) {
            assertThat(other.execute("query-named-block-nodes", null, TestTimeouts.SHORT)).isEmpty();
            assertThat(other.execute("query-version", null, TestTimeouts.SHORT).has("qemu")).isTrue();
        }
        f.exec("blockdev-add", "{'driver':'null-co','node-name':'meanwhile'}");
        assertThat(add).as("still waiting for the peer").isNotDone();

        accepted.close(); // the peer goes away: the command fails now, with the reason
        assertThatThrownBy(() -> add.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS))
                .isInstanceOf(ExecutionException.class).cause().isInstanceOf(QmpCommandException.class)
                .hasMessageContaining("Failed to connect to '127.0.0.1:" + port + "'");
        // Nothing of the failed add stays; the client that waited works as before.
        assertThat(waiting.execute("query-named-block-nodes", null, TestTimeouts.SHORT).toString())
                .doesNotContain("remote").contains("meanwhile");
    }

    @Test
    void laterCommandsOfTheWaitingClientAnswerInOrderAfterIt() throws Exception {
        int port = ((InetSocketAddress) hung.getLocalAddress()).getPort();
        QmpClient waiting = f.qmp.newClient();
        CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> {
            try {
                waiting.execute("blockdev-add", NbdQmpFixture.json("{'driver':'nbd','node-name':'remote','server':"
                        + "{'type':'inet','host':'127.0.0.1','port':'" + port + "'},'export':'x'}"), TestTimeouts.MEDIUM);
                return "added";
            } catch (QmpCommandException e) {
                return "failed";
            }
        });
        SocketChannel accepted = hung.accept();
        CompletableFuture<JsonNode> second = CompletableFuture.supplyAsync(
                () -> waiting.execute("query-named-block-nodes", null, TestTimeouts.MEDIUM));
        f.exec("query-version", null); // another client: answered while both of the first client's wait
        assertThat(first).isNotDone();
        accepted.close();
        assertThat(first.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo("failed");
        assertThat(second.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS)).isEmpty();
    }
}
