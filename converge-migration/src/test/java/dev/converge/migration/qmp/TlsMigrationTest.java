package dev.converge.migration.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.converge.migration.machine.MachineSpec;
import dev.converge.qmp.client.QmpCommandException;
import dev.converge.testing.Pki;
import dev.converge.testing.TestTimeouts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Migration over TLS (tls-creds, tls-hostname, tls-authz on both sides) with certificates made by
 * openssl: a verified client and an authz list that names it migrate; a wrong CA, an authz list
 * that does not name the client, and a peer that does not speak TLS are refused, and the source
 * runs on.
 */
@Tag("integration")
class TlsMigrationTest {
    private static final String SPEC = "memory=16M,vcpus=1,workload=pattern,dirty-rate=1M";
    private final List<AutoCloseable> closing = new ArrayList<>();
    @TempDir
    Path dir;
    private Path pki;

    @BeforeEach
    void setUp() throws Exception {
        pki = Files.createDirectories(dir.resolve("pki"));
        Pki.generate(pki);
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
    }

    private Peer peer(MachineConfig config) {
        Peer p = new Peer(config);
        closing.add(p);
        return p;
    }

    private Peer source(Path creds) {
        Peer p = peer(MachineConfig.of("src", MachineSpec.parse(SPEC)));
        p.exec("object-add", "{\"qom-type\": \"tls-creds-x509\", \"id\": \"tls0\", \"endpoint\": \"client\", \"dir\": \""
                + creds + "\"}");
        p.exec("migrate-set-parameters", "{\"tls-creds\": \"tls0\", \"tls-hostname\": \"localhost\"}");
        return p;
    }

    /** A TLS destination listening; {@code authzIdentity} null for no tls-authz. */
    private Peer destination(String authzIdentity) {
        Peer p = peer(MachineConfig.of("dst", MachineSpec.parse(SPEC)).withIncoming(MachineConfig.DEFER).withStartPaused(true));
        p.exec("object-add", "{\"qom-type\": \"tls-creds-x509\", \"id\": \"tls0\", \"endpoint\": \"server\", "
                + "\"verify-peer\": true, \"dir\": \"" + pki + "\"}");
        String authz = "";
        if (authzIdentity != null) {
            p.exec("object-add", "{\"qom-type\": \"authz-simple\", \"id\": \"auth0\", \"identity\": \"" + authzIdentity + "\"}");
            authz = ", \"tls-authz\": \"auth0\"";
        }
        p.exec("migrate-set-parameters", "{\"tls-creds\": \"tls0\"" + authz + "}");
        p.exec("migrate-incoming", "{\"uri\": \"tcp:127.0.0.1:0\"}");
        return p;
    }

    /**
     * The client's certificate and key, but the CA of another PKI: the destination's certificate
     * is not signed by the CA the source trusts.
     */
    private Path credentialsTrustingAnotherCa() throws Exception {
        Path other = Files.createDirectories(dir.resolve("other"));
        Pki.generate(other);
        Path mixed = Files.createDirectories(dir.resolve("mixed"));
        Files.copy(other.resolve("ca-cert.pem"), mixed.resolve("ca-cert.pem"));
        Files.copy(pki.resolve("client-cert.pem"), mixed.resolve("client-cert.pem"));
        Files.copy(pki.resolve("client-key.pem"), mixed.resolve("client-key.pem"));
        return mixed;
    }

    private static void migrateAndFail(Peer src, Peer dst, String sourceError, String destinationError) {
        src.exec("migrate", "{\"uri\": \"" + dst.listeningUri() + "\"}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("failed"));
        assertThat(src.exec("query-migrate").get("error-desc").asText()).contains(sourceError);
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        assertThat(dst.exec("query-migrate").get("error-desc").asText()).contains(destinationError);
        assertThat(src.status()).as("the source runs on").isEqualTo("running");
        assertThat(dst.status()).isEqualTo("inmigrate");
    }

    @Test
    void aVerifiedClientThatTheAuthzNamesMigratesOverTls() throws Exception {
        Peer src = source(pki);
        Peer dst = destination(Pki.CLIENT_DN);
        src.exec("migrate", "{\"uri\": \"" + dst.listeningUri() + "\"}");
        await().atMost(TestTimeouts.LONG).until(() -> src.migrationStatus().equals("completed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("paused"));
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
        assertThat(src.exec("query-migrate").get("x-converge-ram-check")).isNotNull();
    }

    @ParameterizedTest(name = "{0} channels")
    @ValueSource(ints = {2, 4})
    void multifdChannelsGoOverTlsToo(int channels) throws Exception {
        Peer src = source(pki);
        Peer dst = destination(Pki.CLIENT_DN);
        src.capabilities("multifd");
        dst.capabilities("multifd");
        src.exec("migrate-set-parameters", "{\"multifd-channels\": " + channels + "}");
        dst.exec("migrate-set-parameters", "{\"multifd-channels\": " + channels + "}");
        src.exec("migrate", "{\"uri\": \"" + dst.listeningUri() + "\"}");
        await().atMost(TestTimeouts.LONG).until(() -> src.migrationStatus().equals("completed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("paused"));
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
        assertThat(src.exec("query-migrate").get("ram").get("multifd-bytes").asLong()).isPositive();
    }

    @Test
    void multifdToADestinationWhoseCaDidNotSignTheSourceFailsAndTheSourceRunsOn() throws Exception {
        Peer src = source(credentialsTrustingAnotherCa());
        Peer dst = destination(null);
        src.capabilities("multifd");
        dst.capabilities("multifd");
        migrateAndFail(src, dst, "TLS handshake failed: ", "TLS handshake failed: ");
    }

    @Test
    void aServerCertificateFromAnotherCaIsRefused() throws Exception {
        Peer src = source(credentialsTrustingAnotherCa());
        Peer dst = destination(null);
        migrateAndFail(src, dst, "TLS handshake failed: ", "TLS handshake failed: ");
    }

    @Test
    void aClientTheAuthzListDoesNotNameIsRefused() throws Exception {
        Peer src = source(pki);
        Peer dst = destination("CN=someone-else,O=converge");
        src.exec("migrate", "{\"uri\": \"" + dst.listeningUri() + "\"}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        assertThat(dst.exec("query-migrate").get("error-desc").asText())
                .isEqualTo("TLS x509 authz check for " + Pki.CLIENT_DN + " is denied");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("failed"));
        assertThat(src.status()).isEqualTo("running");
    }

    @Test
    void aPlainSourceIsRefusedByATlsDestinationAndATlsSourceByAPlainOne() throws Exception {
        Peer plain = peer(MachineConfig.of("plain", MachineSpec.parse(SPEC)));
        Peer dst = destination(null);
        plain.exec("migrate", "{\"uri\": \"" + dst.listeningUri() + "\"}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        assertThat(dst.exec("query-migrate").get("error-desc").asText()).startsWith("TLS handshake failed: ");
        await().atMost(TestTimeouts.MEDIUM).until(() -> plain.migrationStatus().equals("failed"));

        Peer src = source(pki);
        Peer plainDst = peer(MachineConfig.of("pdst", MachineSpec.parse(SPEC)).withIncoming("tcp:127.0.0.1:0")
                .withStartPaused(true));
        src.exec("migrate", "{\"uri\": \"" + plainDst.listeningUri() + "\"}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("failed"));
        assertThat(src.exec("query-migrate").get("error-desc").asText()).startsWith("TLS handshake failed: ");
        assertThat(src.status()).isEqualTo("running");
    }

    @Test
    void credentialsMustExistAndFitTheSide() {
        Peer src = peer(MachineConfig.of("src", MachineSpec.parse(SPEC)));
        src.exec("migrate-set-parameters", "{\"tls-creds\": \"nope\"}");
        assertThatThrownBy(() -> src.exec("migrate", "{\"uri\": \"tcp:127.0.0.1:1\"}"))
                .isInstanceOf(QmpCommandException.class).hasMessageContaining("No TLS credentials with id 'nope'");
        src.exec("object-add", "{\"qom-type\": \"tls-creds-x509\", \"id\": \"s\", \"endpoint\": \"server\", \"dir\": \"" + pki + "\"}");
        src.exec("migrate-set-parameters", "{\"tls-creds\": \"s\"}");
        assertThatThrownBy(() -> src.exec("migrate", "{\"uri\": \"tcp:127.0.0.1:1\"}"))
                .isInstanceOf(QmpCommandException.class).hasMessageContaining("Expecting TLS credentials with a client endpoint");
        src.exec("migrate-set-parameters", "{\"tls-creds\": \"\"}");
        assertThat(src.exec("query-migrate-parameters").get("tls-creds").asText()).isEmpty();
    }
}
