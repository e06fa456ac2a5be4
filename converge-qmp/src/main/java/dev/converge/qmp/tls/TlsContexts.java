package dev.converge.qmp.tls;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * SSL contexts from the directory of a {@code tls-creds-x509} object (QEMU's layout: ca-cert.pem,
 * server-cert.pem/server-key.pem, client-cert.pem/client-key.pem), for every TLS user: QMP, NBD
 * client and server, migration.
 */
public final class TlsContexts {
    private TlsContexts() {
    }

    /** Which side's certificate to load from the directory. */
    public enum Endpoint {
        /** server-cert.pem, server-key.pem. */
        SERVER,
        /** client-cert.pem, client-key.pem (optional for clients). */
        CLIENT
    }

    /** An SSL context for {@code endpoint} from a tls-creds-x509 directory. */
    public static SSLContext fromDirectory(Path dir, Endpoint endpoint) throws IOException {
        String prefix = endpoint == Endpoint.SERVER ? "server" : "client";
        Path cert = dir.resolve(prefix + "-cert.pem");
        Path key = dir.resolve(prefix + "-key.pem");
        Path ca = dir.resolve("ca-cert.pem");
        try {
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            List<X509Certificate> cas = PemFiles.certificates(ca);
            for (int i = 0; i < cas.size(); i++) {
                trust.setCertificateEntry("ca" + i, cas.get(i));
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            KeyManagerFactory kmf = null;
            if (endpoint == Endpoint.SERVER || Files.exists(cert)) {
                char[] pw = new char[0];
                KeyStore keys = KeyStore.getInstance("PKCS12");
                keys.load(null, null);
                PrivateKey pk = PemFiles.privateKey(key);
                keys.setKeyEntry(prefix, pk, pw, PemFiles.certificates(cert).toArray(X509Certificate[]::new));
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(keys, pw);
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), new SecureRandom());
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException("TLS credentials in " + dir + ": " + e.getMessage(), e);
        }
    }
}
