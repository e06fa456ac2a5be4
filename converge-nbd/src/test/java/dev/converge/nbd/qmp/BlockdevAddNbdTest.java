package dev.converge.nbd.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.nbd.testing.Peers;
import dev.converge.testing.Pki;
import dev.converge.testing.TestTimeouts;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * blockdev-add with driver nbd, with QEMU's JSON: a node over our own export (a loop through the
 * server and the client, also over TLS) and over nbdkit; re-exported and read by qemu-img.
 */
@Tag("integration")
class BlockdevAddNbdTest {
    private static final int SIZE = 2 << 20;

    @TempDir
    Path dir;
    private NbdQmpFixture f;
    private byte[] data;

    @BeforeEach
    void setUp() throws Exception {
        f = new NbdQmpFixture();
        data = new byte[SIZE];
        new Random(3).nextBytes(data);
        Files.write(dir.resolve("src.raw"), data);
        f.exec("blockdev-add", "{'driver':'file','node-name':'src','filename':'" + dir.resolve("src.raw") + "'}");
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    private Path convert(String url) throws Exception {
        Path out = dir.resolve("out-" + System.nanoTime() + ".raw");
        Peers.run("qemu-img", "convert", "-f", "raw", "-O", "raw", url, out.toString()).ok();
        return out;
    }

    @Test
    void aNodeOverOurOwnExportServesTheSameBytes() throws Exception {
        Path sock = dir.resolve("n.sock");
        f.exec("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + sock + "'}}}");
        f.exec("block-export-add", "{'type':'nbd','id':'e1','node-name':'src','name':'src','writable':true}");
        f.exec("blockdev-add", "{'driver':'nbd','node-name':'remote','server':{'type':'unix','path':'" + sock
                + "'},'export':'src','reconnect-delay':2}");
        JsonNode nodes = f.exec("query-named-block-nodes", null);
        assertThat(nodes.toString()).contains("\"drv\":\"nbd\"").contains("nbd+unix:///src?socket=");
        // export the nbd node again and read it with qemu-img: src → server → client node → server → qemu-img
        f.exec("block-export-add", "{'type':'nbd','id':'e2','node-name':'remote','name':'again'}");
        assertThat(Files.readAllBytes(convert("nbd+unix:///again?socket=" + sock))).isEqualTo(data);
        // writes through the nbd node reach the file behind the first export
        Peers.run("qemu-io", "-f", "raw", "-c", "write -P 0x77 0 4096", "nbd+unix:///src?socket=" + sock).ok();
        assertThat(Files.readAllBytes(convert("nbd+unix:///again?socket=" + sock))[0]).isEqualTo((byte) 0x77);
        assertThat(f.error("blockdev-add", "{'driver':'nbd','node-name':'bad','server':{'type':'unix','path':'"
                + sock + "'},'export':'nope'}")).startsWith("Failed to connect to '").contains("nope");
        assertThat(f.error("blockdev-add", "{'driver':'nbd','node-name':'bad','server':{'type':'unix','path':'"
                + sock + "'},'exprot':'src'}")).isEqualTo("Parameter 'exprot' is unexpected");
        f.exec("block-export-del", "{'id':'e2'}");
        f.exec("blockdev-del", "{'node-name':'remote'}");
    }

    @Test
    void aNodeOverTlsWithClientCredentials() throws Exception {
        Path pki = Files.createDirectories(dir.resolve("pki"));
        Pki.generate(pki);
        f.exec("object-add", "{'qom-type':'tls-creds-x509','id':'srv','endpoint':'server','dir':'" + pki + "'}");
        f.exec("object-add", "{'qom-type':'tls-creds-x509','id':'cli','endpoint':'client','dir':'" + pki + "'}");
        f.exec("nbd-server-start", "{'addr':{'type':'inet','data':{'host':'127.0.0.1','port':'0'}},"
                + "'tls-creds':'srv'}");
        f.exec("block-export-add", "{'type':'nbd','id':'e1','node-name':'src'}");
        int port = ((InetSocketAddress) f.qmp.mainLoop().call(f.nbd::serverAddress)).getPort();
        assertThat(f.error("blockdev-add", "{'driver':'nbd','node-name':'r','read-only':true,'server':{'type':'inet',"
                + "'host':'127.0.0.1','port':'" + port + "'},'export':'src','tls-creds':'srv'}"))
                .isEqualTo("Expecting TLS credentials with a client endpoint");
        f.exec("blockdev-add", "{'driver':'nbd','node-name':'r','read-only':true,'server':{'type':'inet',"
                + "'host':'127.0.0.1','port':'" + port + "'},'export':'src','tls-creds':'cli','tls-hostname':'localhost'}");
        JsonNode q = f.exec("query-named-block-nodes", null);
        assertThat(q.toString()).contains("nbd://127.0.0.1:" + port + "/src");
        // export the TLS client node again on the same TLS server and read it with qemu-img over TLS:
        // src → TLS server → our TLS client node → TLS server → qemu-img
        f.exec("block-export-add", "{'type':'nbd','id':'e2','node-name':'r','name':'again'}");
        Path out = dir.resolve("tls-out.raw");
        Peers.run("qemu-img", "convert", "--object", "tls-creds-x509,id=tls0,endpoint=client,dir=" + pki,
                "--image-opts", "driver=nbd,host=127.0.0.1,port=" + port + ",export=again,tls-creds=tls0,"
                        + "tls-hostname=localhost", "-O", "raw", out.toString()).ok();
        assertThat(Files.readAllBytes(out)).isEqualTo(data);
        // qemu-img has exited, but the server may not have seen its TLS connection close yet: a safe
        // delete is refused until it has ("still in use").
        Awaitility.await().atMost(TestTimeouts.MEDIUM).until(() -> {
            try {
                f.exec("block-export-del", "{'id':'e2'}");
                return true;
            } catch (dev.converge.qmp.client.QmpCommandException e) {
                if (e.desc().equals("export 'e2' still in use")) {
                    return false;
                }
                throw e;
            }
        });
        f.exec("blockdev-del", "{'node-name':'r'}"); // its client would otherwise outlive the server
    }

    @Test
    void aNodeOverNbdkit() throws Exception {
        Peers.assume("nbdkit");
        Path sock = dir.resolve("k.sock");
        Process p = new ProcessBuilder("nbdkit", "-U", sock.toString(), "-f", "memory", "2M").redirectErrorStream(true)
                .redirectOutput(dir.resolve("nbdkit.log").toFile()).start();
        try {
            Awaitility.await().atMost(TestTimeouts.MEDIUM).until(() -> Files.exists(sock) || !p.isAlive());
            f.exec("blockdev-add", "{'driver':'nbd','node-name':'k','server':{'type':'unix','path':'" + sock + "'}}");
            Path esock = dir.resolve("e.sock");
            f.exec("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + esock + "'}}}");
            f.exec("block-export-add", "{'type':'nbd','id':'e','node-name':'k','writable':true}");
            Path src = dir.resolve("src.raw");
            Peers.run("nbdcopy", src.toString(), "nbd+unix:///k?socket=" + esock).ok();
            assertThat(Files.readAllBytes(convert("nbd+unix:///k?socket=" + esock))).isEqualTo(data);
            String map = Peers.run("nbdinfo", "--map", "nbd+unix:///k?socket=" + esock).ok().out();
            assertThat(map).contains("data");
        } finally {
            p.destroy();
            p.waitFor(TestTimeouts.SHORT.toMillis(), TimeUnit.MILLISECONDS);
        }
    }
}
