package dev.converge.nbd.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.nbd.testing.Peers;
import dev.converge.testing.TestTimeouts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The NBD QMP commands through a real QMP server, an export of a file node, and real NBD peers. */
class NbdQmpTest {
    private static final int SIZE = 4 << 20;

    @TempDir
    Path dir;
    private NbdQmpFixture f;
    private Path image;
    private Path sock;
    private byte[] original;

    @BeforeEach
    void setUp() throws Exception {
        original = new byte[SIZE];
        new Random(7).nextBytes(original);
        Arrays.fill(original, 2 << 20, 3 << 20, (byte) 0);
        image = dir.resolve("disk.raw");
        Files.write(image, original);
        sock = dir.resolve("nbd.sock");
        f = new NbdQmpFixture();
        f.exec("blockdev-add", "{'driver':'file','node-name':'disk','filename':'" + image + "'}");
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    private void startServer() {
        f.exec("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + sock + "'}}}");
    }

    private String url(String export) {
        return "nbd+unix:///" + export + "?socket=" + sock;
    }

    @Test
    void fileNodeExportServesQemuImgQemuIoNbdinfoAndNbdcopy() throws Exception {
        startServer();
        f.exec("block-export-add", "{'type':'nbd','id':'e1','node-name':'disk','writable':true}");
        // read: compare and convert
        try (var c = new dev.converge.nbd.client.NbdClient(dev.converge.nbd.client.NbdClientConfig.of(
                java.net.UnixDomainSocketAddress.of(sock), "disk"))) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(65536);
            c.read(0, b);
            assertThat(b.array()).isEqualTo(Arrays.copyOf(original, 65536));
            assertThat(c.blockStatus(0, SIZE)).isNotEmpty();
        }
        Path copy = dir.resolve("copy.raw");
        Files.write(copy, original);
        Peers.run("qemu-img", "compare", "-f", "raw", "-F", "raw", url("disk"), copy.toString()).ok();
        Path converted = dir.resolve("conv.raw");
        Peers.run("qemu-img", "convert", "-f", "raw", "-O", "raw", url("disk"), converted.toString()).ok();
        assertThat(Files.readAllBytes(converted)).isEqualTo(original);
        // write through the export lands in the file (through the node's write path)
        Peers.run("qemu-io", "-f", "raw", "-c", "write -P 0xab 8192 65536", url("disk")).ok();
        byte[] now = Files.readAllBytes(image);
        byte[] expect = original.clone();
        Arrays.fill(expect, 8192, 8192 + 65536, (byte) 0xab);
        assertThat(now).isEqualTo(expect);
        // nbdinfo sees the size and a map
        assertThat(Peers.run("nbdinfo", "--size", url("disk")).ok().out().trim()).isEqualTo(String.valueOf(SIZE));
        assertThat(Peers.run("nbdinfo", "--map", url("disk")).ok().out()).contains("data");
        // nbdcopy both ways
        Path other = dir.resolve("other.raw");
        byte[] otherBytes = new byte[SIZE];
        new Random(8).nextBytes(otherBytes);
        Files.write(other, otherBytes);
        Peers.run("nbdcopy", other.toString(), url("disk")).ok();
        assertThat(Files.readAllBytes(image)).isEqualTo(otherBytes);
        Path back = dir.resolve("back.raw");
        Peers.run("nbdcopy", url("disk"), back.toString()).ok();
        assertThat(Files.readAllBytes(back)).isEqualTo(otherBytes);
        JsonNode q = f.exec("query-block-exports", null);
        assertThat(q.toString()).isEqualTo("[{\"type\":\"nbd\",\"id\":\"e1\",\"node-name\":\"disk\",\"shutting-down\":false}]");
    }

    @Test
    void multiConnIsAdvertisedUnlessOffOrOneConnectionAndHandshakeLimitIsAccepted() throws Exception {
        f.exec("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + sock + "'}},"
                + "'handshake-max-seconds':5}");
        f.exec("block-export-add", "{'type':'nbd','id':'e1','node-name':'disk','writable':true}");
        f.exec("block-export-add", "{'type':'nbd','id':'e2','node-name':'disk','name':'off','multi-conn':'off'}");
        assertThat(Peers.run("nbdinfo", url("disk")).ok().out()).contains("can_multi_conn: true");
        assertThat(Peers.run("nbdinfo", url("off")).ok().out()).contains("can_multi_conn: false");
        f.exec("block-export-del", "{'id':'e1'}");
        f.exec("block-export-del", "{'id':'e2'}");
        f.exec("nbd-server-stop", null);
        f.exec("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + sock + "'}},'max-connections':1}");
        f.exec("block-export-add", "{'type':'nbd','id':'e1','node-name':'disk','multi-conn':'on'}");
        assertThat(Peers.run("nbdinfo", url("disk")).ok().out()).contains("can_multi_conn: false");
    }

    @Test
    void readOnlyExportRefusesWrites() throws Exception {
        startServer();
        f.exec("nbd-server-add", "{'device':'disk','name':'ro'}");
        Peers.Result r = Peers.run("qemu-io", "-f", "raw", "-c", "write -P 0xab 0 4096", url("ro"));
        assertThat(r.out() + r.err()).containsIgnoringCase("permi");
        assertThat(Files.readAllBytes(image)).isEqualTo(original);
    }

    @Test
    void writesThroughTheExportAreRecordedInTheNodesDirtyBitmapAndExported() throws Exception {
        startServer();
        f.exec("block-dirty-bitmap-add", "{'node':'disk','name':'b0','granularity':65536}");
        f.exec("block-export-add", "{'type':'nbd','id':'e1','node-name':'disk','writable':true,'bitmaps':['b0']}");
        Peers.run("qemu-io", "-f", "raw", "-c", "write -P 0x5a 1048576 4096", url("disk")).ok();
        JsonNode nodes = f.exec("query-named-block-nodes", null);
        assertThat(nodes.toString()).contains("\"count\":65536");
        String map = Peers.run("nbdinfo", "--map=qemu:dirty-bitmap:b0", url("disk")).ok().out();
        assertThat(map).containsPattern("1048576\\s+65536\\s+1\\s+dirty");
        assertThat(map).containsPattern("0\\s+1048576\\s+0\\s+clean");
        // the exported bitmap is busy: it cannot be removed under the export
        assertThat(f.error("block-dirty-bitmap-remove", "{'node':'disk','name':'b0'}")).contains("b0");
    }

    @Test
    void errorsAsQemu() {
        assertThat(f.error("nbd-server-stop", null)).isEqualTo("NBD server not running");
        assertThat(f.error("block-export-add", "{'type':'nbd','id':'e1','node-name':'nope'}"))
                .isEqualTo("Cannot find device='' nor node-name='nope'");
        assertThat(f.error("block-export-add", "{'type':'nbd','id':'e1','node-name':'disk'}"))
                .isEqualTo("NBD server not running");
        assertThat(f.error("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'/nonexistent/x.sock'}}}"))
                .isEqualTo("Failed to bind socket to /nonexistent/x.sock: No such file or directory");
        // the socket address errors are the shared parser's, the same for QMP, NBD and migration
        assertThat(f.error("nbd-server-start", "{'addr':{'type':'vsock','data':{'cid':'3','port':'1'}}}"))
                .isEqualTo("Parameter 'addr.type': 'vsock' sockets are not supported by converge (use inet or unix)");
        assertThat(f.error("nbd-server-start", "{'addr':{'type':'inet','data':{'host':'127.0.0.1','port':'99999'}}}"))
                .isEqualTo("port 99999 out of range");
        assertThat(f.error("nbd-server-start", "{'addr':{'type':'inet','data':{'host':'127.0.0.1','port':'0',"
                + "'keep-alive':true}}}")).isEqualTo("keep-alive option is not supported for passive sockets");
        assertThat(f.error("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + sock
                + "'}},'tls-creds':'nope'}")).isEqualTo("No TLS credentials with id 'nope'");
        f.exec("object-add", "{'qom-type':'authz-simple','id':'a0','identity':'CN=x'}");
        assertThat(f.error("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + sock
                + "'}},'tls-creds':'a0'}")).isEqualTo("Object with id 'a0' is not TLS credentials");
        assertThat(f.error("object-add", "{'qom-type':'authz-simple','id':'a0','identity':'CN=x'}"))
                .isEqualTo("attempt to add duplicate property 'a0' to object (type 'container')");
        assertThat(f.error("object-add", "{'qom-type':'tls-creds-x509','id':'t0','dir':'/nonexistent',"
                + "'endpoint':'server'}"))
                .isEqualTo("Unable to access credentials /nonexistent/ca-cert.pem: No such file or directory");
        f.exec("object-del", "{'id':'a0'}");
        assertThat(f.error("object-del", "{'id':'a0'}")).isEqualTo("object 'a0' not found");
        startServer();
        assertThat(f.error("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + sock + "x'}}}"))
                .isEqualTo("NBD server already running");
        f.exec("block-export-add", "{'type':'nbd','id':'e1','node-name':'disk'}");
        assertThat(f.error("block-export-add", "{'type':'nbd','id':'e1','node-name':'disk'}"))
                .isEqualTo("Block export id 'e1' is already in use");
        assertThat(f.error("block-export-add", "{'type':'nbd','id':'e2','node-name':'disk'}"))
                .isEqualTo("NBD server already has export named 'disk'");
        assertThat(f.error("block-export-add", "{'type':'nbd','id':'e3','node-name':'disk','name':'x',"
                + "'bitmaps':['nob']}")).isEqualTo("Bitmap 'nob' is not found");
        assertThat(f.error("block-export-add", "{'type':'nbd','id':'','node-name':'disk','name':'z'}"))
                .isEqualTo("Invalid block export id");
        assertThat(f.error("nbd-server-add", "{'device':'zz'}")).isEqualTo("Cannot find device='zz' nor node-name='zz'");
        assertThat(f.error("block-export-del", "{'id':'nope'}")).isEqualTo("Export 'nope' is not found");
        assertThat(f.error("block-export-del", "{'id':'e1','mode':'soft'}"))
                .isEqualTo("Parameter 'mode' does not accept value 'soft'");
        assertThat(f.error("blockdev-del", "{'node-name':'disk'}")).isEqualTo("Node disk is in use");
        f.exec("blockdev-add", "{'driver':'file','node-name':'rof','read-only':true,'filename':'" + image + "'}");
        assertThat(f.error("block-export-add", "{'type':'nbd','id':'e4','node-name':'rof','writable':true}"))
                .isEqualTo("Cannot export read-only node as writable");
        // nothing of the failed commands stayed
        assertThat(f.exec("query-block-exports", null).size()).isEqualTo(1);
    }

    @Test
    void deletionWithoutClientsEmitsTheEventBeforeTheReplyAndFreesTheNode() {
        startServer();
        f.exec("block-export-add", "{'type':'nbd','id':'e1','node-name':'disk'}");
        f.exec("block-export-del", "{'id':'e1'}");
        assertThat(f.client().drainEvents()).anySatisfy(e -> {
            assertThat(e.path("event").asText()).isEqualTo("BLOCK_EXPORT_DELETED");
            assertThat(e.path("data").path("id").asText()).isEqualTo("e1");
        });
        assertThat(f.exec("query-block-exports", null).size()).isZero();
        f.exec("blockdev-del", "{'node-name':'disk'}"); // no longer in use
    }

    @Test
    void safeDeletionIsRefusedWithAClientAndHardDeletionDisconnectsIt() throws Exception {
        startServer();
        f.exec("block-export-add", "{'type':'nbd','id':'e1','node-name':'disk'}");
        try (var client = new dev.converge.nbd.client.NbdClient(
                dev.converge.nbd.client.NbdClientConfig.of(java.net.UnixDomainSocketAddress.of(sock), "disk"))) {
            assertThat(client.size()).isEqualTo(SIZE); // connected and transmitting
            assertThat(f.error("block-export-del", "{'id':'e1'}")).isEqualTo("export 'e1' still in use");
            f.exec("block-export-del", "{'id':'e1','mode':'hard'}");
            JsonNode ev = f.client().awaitEvent("BLOCK_EXPORT_DELETED", TestTimeouts.MEDIUM);
            assertThat(ev.path("data").path("id").asText()).isEqualTo("e1");
            assertThat(f.exec("query-block-exports", null).size()).isZero();
        }
    }

    @Test
    void serverStopDeletesEveryExport() {
        startServer();
        f.exec("block-export-add", "{'type':'nbd','id':'e1','node-name':'disk'}");
        f.exec("nbd-server-add", "{'device':'disk','name':'leg'}");
        f.exec("nbd-server-stop", null);
        assertThat(f.client().drainEvents()).filteredOn(e -> e.path("event").asText().equals("BLOCK_EXPORT_DELETED"))
                .hasSize(2);
        assertThat(f.exec("query-block-exports", null).size()).isZero();
        startServer(); // the socket was removed, the server can start again
    }
}
