package dev.converge.nbd.driver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockIOException;
import dev.converge.block.Errno;
import dev.converge.block.Extent;
import dev.converge.block.NodeOptions;
import dev.converge.block.ReqFlag;
import dev.converge.nbd.client.NbdClientConfig;
import dev.converge.nbd.testing.Peers;
import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.objects.UserObjects;
import dev.converge.testing.TestTimeouts;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The nbd block driver: options parsed as QEMU's, and a node over nbdkit doing the block operations. */
class NbdNodeTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    Path dir;

    private static ObjectNode json(String s) throws Exception {
        return (ObjectNode) MAPPER.readTree(s.replace('\'', '"'));
    }

    @Test
    void optionsAsQemu() throws Exception {
        UserObjects objects = new UserObjects();
        NbdClientConfig c = NbdDriver.config(json("{'server':{'type':'inet','host':'127.0.0.1','port':'10809'},"
                + "'export':'disk','reconnect-delay':5}"), objects);
        assertThat(c.address()).isEqualTo(new InetSocketAddress("127.0.0.1", 10809));
        assertThat(c.export()).isEqualTo("disk");
        assertThat(c.reconnectDelay()).isEqualTo(Duration.ofSeconds(5));
        assertThat(NbdDriver.uri(c)).isEqualTo("nbd://127.0.0.1:10809/disk");
        NbdClientConfig u = NbdDriver.config(json("{'server':{'type':'unix','path':'/run/x.sock'}}"), objects);
        assertThat(u.address()).isEqualTo(UnixDomainSocketAddress.of("/run/x.sock"));
        assertThat(u.export()).isEmpty();
        assertThatThrownBy(() -> NbdDriver.config(json("{'server':{'type':'unix','path':'/x'},'tls-creds':'t'}"),
                objects)).isInstanceOf(QmpException.class).hasMessage("No TLS credentials with id 't'");
        assertThatThrownBy(() -> NbdDriver.config(json("{'server':{'type':'inet','host':'h','port':'http'}}"),
                objects)).hasMessage("address resolution failed for h:http: Servname not supported for ai_socktype");
    }

    @Test
    void blockFlagsFromBaseAllocation() {
        assertThat(NbdNode.blockFlags(0)).isEqualTo(Extent.DATA | Extent.ALLOCATED);
        assertThat(NbdNode.blockFlags(NbdProtocol.STATE_HOLE | NbdProtocol.STATE_ZERO))
                .isEqualTo(Extent.ZERO | Extent.ALLOCATED);
        assertThat(NbdNode.blockFlags(NbdProtocol.STATE_ZERO)).isEqualTo(Extent.DATA | Extent.ZERO | Extent.ALLOCATED);
    }

    @Tag("integration")
    @Test
    void aNodeOverNbdkitReadsWritesZeroesAndMaps() throws Exception {
        Peers.assume("nbdkit");
        Path sock = dir.resolve("k.sock");
        Process p = new ProcessBuilder("nbdkit", "-U", sock.toString(), "-f", "memory", "4M").redirectErrorStream(true)
                .redirectOutput(dir.resolve("nbdkit.log").toFile()).start();
        try {
            Awaitility.await().atMost(TestTimeouts.MEDIUM).until(() -> Files.exists(sock) || !p.isAlive());
            NbdNode node = NbdDriver.open("remote", NodeOptions.DEFAULTS.withDiscardUnmap(true),
                    json("{'server':{'type':'unix','path':'" + sock + "'}}"), new UserObjects());
            try {
                assertThat(node.size()).isEqualTo(4 << 20);
                assertThat(node.filename()).isEqualTo("nbd+unix:///?socket=" + sock);
                node.write(65536, ByteBuffer.wrap(new byte[] {1, 2, 3, 4}), Set.of(ReqFlag.FUA));
                ByteBuffer b = ByteBuffer.allocate(4);
                node.read(65536, b);
                assertThat(b.array()).containsExactly(1, 2, 3, 4);
                List<Extent> map = node.blockStatus(0, 4 << 20);
                assertThat(map.getFirst().isZero()).isTrue();
                assertThat(map).anySatisfy(e -> assertThat(e.isData()).isTrue());
                assertThat(map.getLast().end()).isEqualTo(4 << 20);
                node.writeZeroes(65536, 4096, Set.of(ReqFlag.MAY_UNMAP));
                node.read(65536, b.clear());
                assertThat(b.array()).containsOnly(0);
                node.flush();
                assertThatThrownBy(() -> node.read(4 << 20, ByteBuffer.allocate(1)))
                        .isInstanceOfSatisfying(BlockIOException.class, e -> assertThat(e.kind()).isEqualTo(Errno.EINVAL));
            } finally {
                node.close();
            }
        } finally {
            p.destroy();
            p.waitFor(TestTimeouts.SHORT.toMillis(), TimeUnit.MILLISECONDS);
        }
    }
}
