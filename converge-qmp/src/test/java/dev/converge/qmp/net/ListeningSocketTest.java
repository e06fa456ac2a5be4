package dev.converge.qmp.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.server.QmpServer;
import dev.converge.qmp.server.ServerIdentity;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ListeningSocketTest {

    @Test
    void backlogIsTheKernelsLimit() throws IOException {
        Path somaxconn = Path.of("/proc/sys/net/core/somaxconn");
        if (Files.exists(somaxconn)) {
            try (InputStream in = Files.newInputStream(somaxconn)) {
                assertThat(ListeningSocket.backlog()).isEqualTo(Integer.parseInt(new String(in.readAllBytes()).trim()));
            }
        } else {
            assertThat(ListeningSocket.backlog()).isEqualTo(4096);
        }
    }

    @Test
    void unixSocketIsReachableOnlyAtItsPathWithItsModeAndRemovedWhileOurs(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("x.sock");
        ListeningSocket s = ListeningSocket.unix(p, PosixFilePermissions.fromString("rw-rw----"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(p))).isEqualTo("rw-rw----");
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.toList()).containsExactly(p);
        }
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(p));
             SocketChannel accepted = s.channel().accept()) {
            assertThat(accepted).isNotNull();
            assertThat(c.isConnected()).isTrue();
        }
        // a successor replaced the file (we are "stale" to it): closing must not delete its socket
        s.channel().close();
        ListeningSocket successor = ListeningSocket.unix(p, ListeningSocket.OWNER_ONLY);
        s.close();
        assertThat(p).exists();
        successor.close();
        assertThat(p).doesNotExist();
    }

    @Test
    void staleFileIsReplacedLiveSocketAndOtherFilesAreNot(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("s.sock");
        ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        dead.bind(UnixDomainSocketAddress.of(p));
        dead.close(); // the file stays, as after kill -9
        try (ListeningSocket s = ListeningSocket.unix(p, ListeningSocket.OWNER_ONLY)) {
            assertThatThrownBy(() -> ListeningSocket.unix(p, ListeningSocket.OWNER_ONLY))
                    .hasMessageContaining("Address already in use");
            try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(p))) {
                assertThat(c.isConnected()).as("the live one still answers").isTrue();
            }
        }
        Path plain = Files.writeString(dir.resolve("plain"), "keep");
        assertThatThrownBy(() -> ListeningSocket.unix(plain, ListeningSocket.OWNER_ONLY))
                .hasMessageContaining("not a socket");
        assertThat(Files.readString(plain)).isEqualTo("keep");
    }

    @Test
    void qmpServerGreetsABurstOfSimultaneousClients() throws Exception {
        try (MainLoop loop = new MainLoop();
             QmpServer server = new QmpServer(new QmpRegistry(), loop, ServerIdentity.CONVERGE)) {
            dev.converge.qmp.sockets.SocketAddress at = server.listen(dev.converge.qmp.sockets.InetSocketAddress.of("127.0.0.1", 0));
            int n = 200;
            List<Callable<Integer>> tasks = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                tasks.add(() -> {
                    try (QmpClient c = QmpClient.connect(at)) {
                        return c.greeting().path("QMP").path("version").path("qemu").path("major").asInt();
                    }
                });
            }
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (Future<Integer> f : pool.invokeAll(tasks)) {
                    assertThat(f.get()).isEqualTo(10);
                }
            }
            assertThat(((dev.converge.qmp.sockets.InetSocketAddress) at).port()).isPositive();
        }
    }
}
