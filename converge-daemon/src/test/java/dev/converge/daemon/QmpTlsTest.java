package dev.converge.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.converge.migration.qmp.MachineConfig;
import dev.converge.qmp.sockets.SocketAddress;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** QMP over TCP with TLS ({@code --object tls-creds-x509} and {@code --qmp tcp:...,tls-creds=ID}). */
@Tag("integration")
class QmpTlsTest {
    @TempDir
    Path dir;
    private Daemon daemon;

    @AfterEach
    void close() {
        if (daemon != null) {
            daemon.close();
        }
    }

    private void openssl(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
    }

    /** A CA and a server certificate for 127.0.0.1, in the layout of a tls-creds-x509 directory. */
    private void pki() throws Exception {
        assumeTrue(new ProcessBuilder("openssl", "version").start().waitFor() == 0, "openssl is not installed");
        Files.writeString(dir.resolve("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem", "-days", "2",
                "-subj", "/CN=qmp test CA");
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "server.csr", "-subj",
                "/CN=localhost");
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                "-out", "server-cert.pem", "-days", "2", "-extfile", "server.ext");
    }

    private SSLContext trustingTheCa() throws Exception {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        try (var in = Files.newInputStream(dir.resolve("ca-cert.pem"))) {
            ks.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext c = SSLContext.getInstance("TLS");
        c.init(null, tmf.getTrustManagers(), null);
        return c;
    }

    @Test
    void qmpOverTlsGreetsNegotiatesAndAnswers() throws Exception {
        pki();
        SocketAddress tcp = SocketAddress.parse("tcp:127.0.0.1:0");
        daemon = Daemon.start(new DaemonConfig(List.of(tcp), List.of(), MachineConfig.none(),
                List.of(Converged.objectJson("tls-creds-x509,id=tls0,dir=" + dir + ",endpoint=server,verify-peer=off")),
                Map.of(tcp, "tls0")));
        dev.converge.qmp.sockets.InetSocketAddress bound = (dev.converge.qmp.sockets.InetSocketAddress) daemon.addresses().get(0);

        try (SSLSocket s = (SSLSocket) trustingTheCa().getSocketFactory().createSocket("127.0.0.1", bound.port())) {
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            OutputStream out = s.getOutputStream();
            assertThat(in.readLine()).contains("\"QMP\"");
            out.write("{\"execute\": \"qmp_capabilities\"}\n{\"execute\": \"query-version\", \"id\": 7}\n"
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            assertThat(in.readLine()).isEqualTo("{\"return\": {}}");
            assertThat(in.readLine()).contains("\"qemu\"").contains("\"id\": 7");
        }

        // A client that speaks plain QMP to the TLS port gets nothing it can use, and the daemon serves on.
        try (java.net.Socket plain = new java.net.Socket("127.0.0.1", bound.port())) {
            plain.getOutputStream().write("{\"execute\": \"qmp_capabilities\"}\n".getBytes(StandardCharsets.UTF_8));
            java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
            try {
                plain.getInputStream().transferTo(got);
            } catch (java.net.SocketException e) {
                // The server closes on the bytes it refused, maybe before reading them all: the
                // kernel then resets the connection instead of ending it. A refusal either way.
            }
            assertThat(got.toByteArray()).as("no greeting in clear text").doesNotContain((byte) '{');
        }
        try (SSLSocket s = (SSLSocket) trustingTheCa().getSocketFactory().createSocket("127.0.0.1", bound.port())) {
            assertThat(new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine())
                    .contains("\"QMP\"");
        }
    }

    @Test
    void aClientThatDoesNotTrustTheServerFailsTheHandshake() throws Exception {
        pki();
        SocketAddress tcp = SocketAddress.parse("tcp:127.0.0.1:0");
        daemon = Daemon.start(new DaemonConfig(List.of(tcp), List.of(), MachineConfig.none(),
                List.of(Converged.objectJson("tls-creds-x509,id=tls0,dir=" + dir + ",endpoint=server")),
                Map.of(tcp, "tls0")));
        int port = ((dev.converge.qmp.sockets.InetSocketAddress) daemon.addresses().get(0)).port();
        try (SSLSocket s = (SSLSocket) SSLContext.getDefault().getSocketFactory().createSocket("127.0.0.1", port)) {
            assertThatThrownBy(s::startHandshake).isInstanceOf(SSLHandshakeException.class);
        }
    }

    @Test
    void wrongCredentialsAreRefusedAtStart() throws Exception {
        SocketAddress tcp = SocketAddress.parse("tcp:127.0.0.1:0");
        assertThatThrownBy(() -> Daemon.start(new DaemonConfig(List.of(tcp), List.of(), MachineConfig.none(), List.of(),
                Map.of(tcp, "nope")))).isInstanceOf(DaemonStartException.class).hasMessageContaining("nope");
        assertThat(Converged.objectJson("tls-creds-x509,id=t,dir=/d,endpoint=server,verify-peer=off"))
                .isEqualTo("{\"qom-type\":\"tls-creds-x509\",\"id\":\"t\",\"dir\":\"/d\",\"endpoint\":\"server\","
                        + "\"verify-peer\":false}");
    }
}
