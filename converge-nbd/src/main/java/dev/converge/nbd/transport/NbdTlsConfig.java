package dev.converge.nbd.transport;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import javax.security.auth.x500.X500Principal;

/**
 * TLS for NBD, configured like QEMU's {@code tls-creds-x509}: a directory with ca-cert.pem and
 * server-cert.pem/server-key.pem (client-cert.pem/client-key.pem for the client endpoint).
 *
 * @param context        the SSL context
 * @param verifyPeer     whether clients must present a certificate signed by the CA (QEMU's default)
 * @param allowedClients the authz allow-list of client certificate subjects; empty allows every
 *                       verified client
 * @param protocols      TLS versions offered, see {@link #defaultProtocols(boolean)}
 * @param authz          a further authorization check of the client's certificate subject (QEMU's
 *                       tls-authz object), or null; a client must pass both this and {@code allowedClients}
 */
public record NbdTlsConfig(SSLContext context, boolean verifyPeer, Set<X500Principal> allowedClients,
                           List<String> protocols, ClientAuthz authz) {

    /** Decides whether a verified client certificate subject may connect (QEMU's QAuthZ). */
    @FunctionalInterface
    public interface ClientAuthz {
        /** @param subject the client certificate's subject distinguished name */
        boolean allows(X500Principal subject);
    }

    /** Without a {@link ClientAuthz}. */
    public NbdTlsConfig(SSLContext context, boolean verifyPeer, Set<X500Principal> allowedClients,
                        List<String> protocols) {
        this(context, verifyPeer, allowedClients, protocols, null);
    }

    public NbdTlsConfig {
        if (authz != null && !verifyPeer) {
            throw new IllegalArgumentException("authz: an authorization check needs verifyPeer");
        }
        allowedClients = Set.copyOf(allowedClients);
        protocols = List.copyOf(protocols);
        if (protocols.isEmpty()) {
            throw new IllegalArgumentException("protocols: empty (expected: e.g. TLSv1.3, TLSv1.2)");
        }
        if (!allowedClients.isEmpty() && !verifyPeer) {
            throw new IllegalArgumentException("allowedClients: an allow-list needs verifyPeer");
        }
    }

    /** Whether connecting clients' certificate subjects are checked after the TLS handshake. */
    public boolean checksClients() {
        return !allowedClients.isEmpty() || authz != null;
    }

    /** Whether a client with a verified certificate of {@code subject} may go on. */
    public boolean authorizes(X500Principal subject) {
        return (allowedClients.isEmpty() || allowedClients.contains(subject))
                && (authz == null || authz.allows(subject));
    }

    /** This configuration with {@code newAuthz} as its authorization check. */
    public NbdTlsConfig withAuthz(ClientAuthz newAuthz) {
        return new NbdTlsConfig(context, verifyPeer, allowedClients, protocols, newAuthz);
    }

    /** Server credentials from {@code dir}; {@code allowedDns} are distinguished names as RFC 2253 strings. */
    public static NbdTlsConfig fromDirectory(Path dir, boolean verifyPeer, Collection<String> allowedDns)
            throws IOException {
        Set<X500Principal> allowed = allowedDns.stream().map(X500Principal::new).collect(Collectors.toSet());
        return new NbdTlsConfig(dev.converge.qmp.tls.TlsContexts.fromDirectory(dir, dev.converge.qmp.tls.TlsContexts.Endpoint.SERVER), verifyPeer, allowed, defaultProtocols(verifyPeer));
    }

    /**
     * TLS 1.3 and 1.2, except with client certificates: then TLS 1.2 only. GnuTLS clients (qemu, libnbd)
     * choose their certificate in TLS 1.3 by the CertificateRequest's signature_algorithms alone (they
     * ignore signature_algorithms_cert), and the JDK, rightly, lists no rsa_pkcs1 schemes there; so a
     * client certificate signed with RSA PKCS#1 (what certtool and openssl make by default) is never
     * sent and the handshake fails. TLS 1.2 has no such split.
     */
    public static List<String> defaultProtocols(boolean verifyPeer) {
        return verifyPeer ? List.of("TLSv1.2") : List.of("TLSv1.3", "TLSv1.2");
    }

}
