package dev.converge.nbd.server;

import dev.converge.nbd.testing.Peers;
import dev.converge.nbd.transport.NbdTlsConfig;
import dev.converge.qmp.tls.PemFiles;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.nbd.wire.NbdProtocol.OptionReplyType;
import dev.converge.nbd.wire.OptionReply;
import dev.converge.nbd.wire.OptionRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.interfaces.RSAPrivateCrtKey;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** STARTTLS with x509 credentials laid out as QEMU's tls-creds-x509 expects, against qemu-img, qemu-io and nbdinfo. */
@Tag("integration")
class TlsTest {
    private static final int SIZE = 2 << 20;
    private static final String CLIENT_DN = "CN=client1,O=converge";

    @TempDir
    static Path pki;
    @TempDir
    Path dir;
    private NbdServer server;
    private MemoryBackend disk;

    @BeforeAll
    static void credentials() throws Exception {
        Peers.assume("openssl");
        Files.writeString(pki.resolve("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                + "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n");
        Files.writeString(pki.resolve("client.ext"), "extendedKeyUsage=clientAuth\n"
                + "keyUsage=digitalSignature,keyEncipherment\n");
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
                "-days", "2", "-subj", "/CN=converge test CA");
        for (String who : List.of("server", "client")) {
            String cn = who.equals("server") ? "/O=converge/CN=localhost" : "/O=converge/CN=client1";
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", who + "-key.pem", "-out", who + ".csr",
                    "-subj", cn);
            openssl("x509", "-req", "-in", who + ".csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
                    "-CAcreateserial", "-out", who + "-cert.pem", "-days", "2", "-extfile", who + ".ext");
        }
        // the server key as PKCS#1 ("RSA PRIVATE KEY"), so both key formats are exercised
        openssl("rsa", "-in", "server-key.pem", "-out", "server-key.pem", "-traditional");
        assertThat(Files.readString(pki.resolve("server-key.pem"))).contains("BEGIN RSA PRIVATE KEY");
    }

    private static void openssl(String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "openssl";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Process p = new ProcessBuilder(cmd).directory(pki.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
    }

    private void start(List<String> allowed) throws Exception {
        Peers.assume("openssl");
        disk = new MemoryBackend(SIZE);
        byte[] b = new byte[SIZE / 2];
        new Random(3).nextBytes(b);
        disk.write(0, java.nio.ByteBuffer.wrap(b), false);
        server = NbdServer.start(NbdServerConfig.tcp("127.0.0.1", 0)
                .withTls(NbdTlsConfig.fromDirectory(pki, true, allowed)));
        server.addExport(NbdExport.writable("disk", disk));
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
            assertThat(server.connectionCount()).isZero();
        }
    }

    private String[] qemu(String tool, String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of(tool));
        cmd.addAll(List.of(args));
        return cmd.toArray(String[]::new);
    }

    private String imageOpts() {
        return "driver=nbd,host=127.0.0.1,port=" + server.port() + ",export=disk,tls-creds=tls0";
    }

    private String tlsObject() {
        return "tls-creds-x509,id=tls0,dir=" + pki + ",endpoint=client";
    }

    @Test
    void qemuImgConvertsAndQemuIoWritesOverTls() throws Exception {
        start(List.of(CLIENT_DN));
        Path out = dir.resolve("out.raw");
        Peers.run(qemu("qemu-img", "convert", "--object", tlsObject(), "--image-opts", imageOpts(),
                "-O", "raw", out.toString())).ok();
        assertThat(Files.readAllBytes(out)).isEqualTo(disk.snapshot());
        Peers.run(qemu("qemu-io", "--object", tlsObject(), "--image-opts", imageOpts(),
                "-c", "write -P 0x77 1M 64k")).ok();
        assertThat(disk.snapshot()[(1 << 20) + 65535]).isEqualTo((byte) 0x77);
    }

    @Test
    void nbdinfoOverNbds() throws Exception {
        start(List.of());
        String out = Peers.run("nbdinfo", "--json", "nbds://127.0.0.1:" + server.port() + "/disk?tls-certificates="
                + pki).ok().out();
        assertThat(out).contains("\"export-size\": " + SIZE);
        Path copy = dir.resolve("copy.raw");
        Peers.run("nbdcopy", "nbds://127.0.0.1:" + server.port() + "/disk?tls-certificates=" + pki,
                copy.toString()).ok();
        assertThat(Files.readAllBytes(copy)).isEqualTo(disk.snapshot());
    }

    @Test
    void withoutClientCertificatesTls13IsOffered() throws Exception {
        Peers.assume("openssl");
        disk = new MemoryBackend(SIZE).fill(0, 4096, (byte) 0x42);
        NbdTlsConfig tls = new NbdTlsConfig(dev.converge.qmp.tls.TlsContexts.fromDirectory(pki, dev.converge.qmp.tls.TlsContexts.Endpoint.SERVER), false,
                java.util.Set.of(), NbdTlsConfig.defaultProtocols(false));
        assertThat(tls.protocols()).contains("TLSv1.3");
        server = NbdServer.start(NbdServerConfig.tcp("127.0.0.1", 0).withTls(tls));
        server.addExport(NbdExport.readOnly("disk", disk));
        Path copy = dir.resolve("copy.raw");
        Peers.run("nbdcopy", "nbds://127.0.0.1:" + server.port() + "/disk?tls-certificates=" + pki,
                copy.toString()).ok();
        assertThat(Files.readAllBytes(copy)).isEqualTo(disk.snapshot());
    }

    @Test
    void plainClientsAreToldTlsIsRequired() throws Exception {
        start(List.of());
        try (TestClient c = TestClient.connect(server.localAddress())) {
            c.start();
            List<OptionReply> r = c.option(OptionRequest.go("disk", List.of()));
            assertThat(r.getFirst().type()).isEqualTo(OptionReplyType.ERR_TLS_REQD);
            assertThat(c.option(OptionRequest.list()).getFirst().type()).isEqualTo(OptionReplyType.ERR_TLS_REQD);
        }
        Peers.Result r = Peers.run("qemu-img", "info", "nbd://127.0.0.1:" + server.port() + "/disk");
        assertThat(r.exit()).isNotZero();
        assertThat(r.err()).containsIgnoringCase("TLS");
    }

    @Test
    void clientsOutsideTheAllowListAreRefusedAndTheServerGoesOn() throws Exception {
        start(List.of("CN=someone else,O=converge"));
        Peers.Result r = Peers.run(qemu("qemu-img", "info", "--object", tlsObject(), "--image-opts", imageOpts()));
        assertThat(r.exit()).isNotZero();
        server.removeExport("disk");
        server.addExport(NbdExport.writable("disk", disk));
        assertThat(server.exports()).hasSize(1);
    }

    @Test
    void startTlsWithoutCredentialsIsRefusedLikeQemu() throws Exception {
        try (NbdServer plain = NbdServer.start(NbdServerConfig.tcp("127.0.0.1", 0));
             TestClient c = TestClient.connect(plain.localAddress())) {
            plain.addExport(NbdExport.writable("disk", new MemoryBackend(4096)));
            c.start();
            OptionReply r = c.option(OptionRequest.startTls()).getFirst();
            assertThat(r.type()).isEqualTo(OptionReplyType.ERR_POLICY);
            assertThat(r.message()).isEqualTo("TLS not configured");
            TestClient.expectAck(c.option(OptionRequest.list()));
        }
    }

    @Test
    void pemKeysInBothFormatsAreTheSameKey() throws Exception {
        Peers.assume("openssl");
        openssl("rsa", "-in", "client-key.pem", "-out", "client-key-pkcs1.pem", "-traditional");
        var pkcs8 = (RSAPrivateCrtKey) PemFiles.privateKey(pki.resolve("client-key.pem"));
        var pkcs1 = (RSAPrivateCrtKey) PemFiles.privateKey(pki.resolve("client-key-pkcs1.pem"));
        assertThat(Files.readString(pki.resolve("client-key.pem"))).contains("BEGIN PRIVATE KEY");
        assertThat(pkcs1.getModulus()).isEqualTo(pkcs8.getModulus());
        assertThat(pkcs1.getPrivateExponent()).isEqualTo(pkcs8.getPrivateExponent());
        assertThat(PemFiles.certificates(pki.resolve("client-cert.pem")).getFirst().getSubjectX500Principal())
                .isEqualTo(new javax.security.auth.x500.X500Principal(CLIENT_DN));
        assertThatThrownBy(() -> PemFiles.privateKey(pki.resolve("client-cert.pem")))
                .isInstanceOf(IOException.class).hasMessageContaining("no PRIVATE KEY");
    }
}
