package dev.converge.migration.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.migration.machine.MachineSpec;
import dev.converge.testing.TestTimeouts;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The socket file of a UNIX migrate-incoming: removed after use and at exit, a stale one replaced. */
@Tag("integration")
class IncomingSocketFileTest {
    private static final String SPEC = "memory=16M,vcpus=1,workload=pattern";

    @TempDir
    Path dir;

    private final List<Peer> peers = new ArrayList<>();

    @AfterEach
    void close() {
        peers.reversed().forEach(Peer::close);
    }

    private Peer peer(MachineConfig c) {
        Peer p = new Peer(c);
        peers.add(p);
        return p;
    }

    @Test
    void aSecondMigrateIncomingOnTheSamePathAfterAFailureWorksAndNoFileIsLeft() throws Exception {
        Path sock = dir.resolve("in.sock");
        Peer dst = peer(MachineConfig.of("dst", MachineSpec.parse(SPEC)).withIncoming("unix:" + sock).withStartPaused(true));
        assertThat(sock).exists();
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            ch.write(ByteBuffer.wrap("not a migration stream".getBytes()));
            ch.shutdownOutput();
            await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        }
        assertThat(sock).as("removed once the listener stopped").doesNotExist();

        dst.exec("migrate-incoming", "{\"uri\": \"unix:" + sock + "\"}");
        assertThat(dst.migrationStatus()).isEqualTo("setup");
        Peer src = peer(MachineConfig.of("src", MachineSpec.parse(SPEC)));
        src.exec("migrate", "{\"uri\": \"unix:" + sock + "\"}");
        await().atMost(TestTimeouts.LONG).until(() -> src.migrationStatus().equals("completed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("paused"));
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
        assertThat(sock).doesNotExist();
    }

    @Test
    void theFileGoesAtExitAndAStaleOneIsReplaced() throws Exception {
        Path sock = dir.resolve("stale.sock");
        // A listener that died without cleaning up: the file stays, nobody answers.
        ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(sock));
        dead.close();
        assertThat(sock).exists();

        Peer dst = peer(MachineConfig.of("dst", MachineSpec.parse(SPEC)).withIncoming("defer"));
        dst.exec("migrate-incoming", "{\"uri\": \"unix:" + sock + "\"}");
        assertThat(dst.migrationStatus()).isEqualTo("setup");
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            assertThat(probe.isConnected()).as("the new listener answers").isTrue();
        }
        // That connection used the listener up (and failed: it sent nothing).
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        assertThat(sock).doesNotExist();
        dst.exec("migrate-incoming", "{\"uri\": \"unix:" + sock + "\"}");
        assertThat(sock).exists();
        dst.close();
        assertThat(sock).as("removed at exit").doesNotExist();
    }

    @Test
    void aPathWhereAServerAnswersIsNotTakenOver() throws Exception {
        Path sock = dir.resolve("busy.sock");
        try (ServerSocketChannel live = ServerSocketChannel.open(StandardProtocolFamily.UNIX)
                .bind(UnixDomainSocketAddress.of(sock))) {
            Peer dst = peer(MachineConfig.of("dst", MachineSpec.parse(SPEC)).withIncoming("defer"));
            org.assertj.core.api.Assertions.assertThatThrownBy(
                    () -> dst.exec("migrate-incoming", "{\"uri\": \"unix:" + sock + "\"}"))
                    .hasMessageContaining("Address already in use: a server is answering on " + sock);
            assertThat(sock).exists();
        }
    }
}
