package dev.converge.nbd.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.block.BlockNode;
import dev.converge.nbd.client.NbdClient;
import dev.converge.nbd.client.NbdClientConfig;
import dev.converge.nbd.testing.Peers;
import dev.converge.testing.Pki;
import dev.converge.nbd.transport.NbdTlsConfig;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS set up through object-add and nbd-server-start, with tls-authz; an export following a pivot. */
@Tag("integration")
class NbdQmpTlsAndPivotTest {
    private static final int SIZE = 1 << 20;

    @TempDir
    static Path pki;
    @TempDir
    Path dir;
    private NbdQmpFixture f;

    @BeforeAll
    static void credentials() throws Exception {
        Pki.generate(pki);
    }

    @BeforeEach
    void setUp() throws Exception {
        f = new NbdQmpFixture();
        byte[] b = new byte[SIZE];
        java.util.Arrays.fill(b, (byte) 0x42);
        Files.write(dir.resolve("a.raw"), b);
        Files.write(dir.resolve("b.raw"), new byte[SIZE]);
        f.exec("blockdev-add", "{'driver':'file','node-name':'a','filename':'" + dir.resolve("a.raw") + "'}");
        f.exec("blockdev-add", "{'driver':'file','node-name':'b','filename':'" + dir.resolve("b.raw") + "'}");
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    private int startTlsServer(String authz) {
        f.exec("object-add", "{'qom-type':'tls-creds-x509','id':'tls0','endpoint':'server','dir':'" + pki + "'}");
        f.exec("nbd-server-start", "{'addr':{'type':'inet','data':{'host':'127.0.0.1','port':'0'}},"
                + "'tls-creds':'tls0'" + (authz == null ? "" : ",'tls-authz':'" + authz + "'") + "}");
        f.exec("block-export-add", "{'type':'nbd','id':'e','node-name':'a','writable':true}");
        return ((InetSocketAddress) f.qmp.mainLoop().call(f.nbd::serverAddress)).getPort();
    }

    private static String imageOpts(int port) {
        return "driver=nbd,host=127.0.0.1,port=" + port + ",export=a,tls-creds=tls0,tls-hostname=localhost";
    }

    private Peers.Result qemuIoRead(int port) throws Exception {
        return Peers.run("qemu-io", "--object", "tls-creds-x509,id=tls0,endpoint=client,dir=" + pki,
                "--image-opts", imageOpts(port), "-c", "read -P 0x42 0 65536");
    }

    @Test
    void qemuIoOverTlsWithAnAuthzListThatAllowsTheClient() throws Exception {
        f.exec("object-add", "{'qom-type':'authz-list','id':'auth0','policy':'deny','rules':["
                + "{'match':'CN=client1,*','policy':'allow','format':'glob'}]}");
        int port = startTlsServer("auth0");
        qemuIoRead(port).ok();
        // a plain client is refused: the server requires TLS
        Peers.Result plain = Peers.run("qemu-io", "-f", "raw", "-c", "read 0 512", "nbd://127.0.0.1:" + port + "/a");
        assertThat(plain.exit()).isNotZero();
        // our client, over TLS, with its client certificate
        try (NbdClient c = new NbdClient(NbdClientConfig.of(new InetSocketAddress("127.0.0.1", port), "a")
                .withTls(dev.converge.qmp.tls.TlsContexts.fromDirectory(pki, dev.converge.qmp.tls.TlsContexts.Endpoint.CLIENT), "localhost"))) {
            ByteBuffer b = ByteBuffer.allocate(4);
            c.read(0, b);
            assertThat(b.array()).containsOnly(0x42);
        }
    }

    @Test
    void anAuthzThatDoesNotListTheClientRefusesIt() throws Exception {
        f.exec("object-add", "{'qom-type':'authz-simple','id':'auth0','identity':'CN=someone-else'}");
        int port = startTlsServer("auth0");
        assertThat(qemuIoRead(port).exit()).isNotZero();
        // the allow-list is read per connection: replacing the object lets the client in
        f.exec("object-del", "{'id':'auth0'}");
        f.exec("object-add", "{'qom-type':'authz-simple','id':'auth0','identity':'" + Pki.CLIENT_DN + "'}");
        qemuIoRead(port).ok();
    }

    @Test
    void theExportFollowsItsNodeWhenAMirrorPivots() throws Exception {
        Path sock = dir.resolve("p.sock");
        f.exec("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + sock + "'}}}");
        f.exec("block-export-add", "{'type':'nbd','id':'e','node-name':'a','name':'disk','writable':true}");
        try (NbdClient c = new NbdClient(NbdClientConfig.of(UnixDomainSocketAddress.of(sock), "disk"))) {
            ByteBuffer before = ByteBuffer.allocate(1);
            c.read(0, before);
            assertThat(before.get(0)).isEqualTo((byte) 0x42);
            // what a mirror's pivot does: every user of a now uses b
            f.qmp.mainLoop().call(() -> {
                BlockNode a = f.graph.find("a").orElseThrow();
                f.graph.replaceNode(a, f.graph.find("b").orElseThrow());
                return null;
            });
            ByteBuffer after = ByteBuffer.allocate(1);
            c.read(0, after);
            assertThat(after.get(0)).isEqualTo((byte) 0);
            c.write(4096, ByteBuffer.wrap(new byte[] {7}), true);
        }
        assertThat(Files.readAllBytes(dir.resolve("b.raw"))[4096]).isEqualTo((byte) 7);
        assertThat(Files.readAllBytes(dir.resolve("a.raw"))[4096]).isEqualTo((byte) 0x42);
        assertThat(f.exec("query-block-exports", null).get(0).path("node-name").asText()).isEqualTo("b");
    }
}
