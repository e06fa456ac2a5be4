package dev.converge.bench.multifd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Throw-away X.509 credentials for a TLS benchmark, made with openssl: a CA, a server certificate
 * (CN=localhost, SAN 127.0.0.1 and localhost) and a client certificate, written in the layout a
 * {@code tls-creds-x509} directory has for QEMU and converge alike (ca-cert.pem,
 * server-cert.pem, server-key.pem, client-cert.pem, client-key.pem).
 */
final class BenchCertificates {
    private BenchCertificates() {
    }

    /** Writes the credentials into {@code dir}; fails naming openssl's output when a step fails. */
    static void generate(Path dir) throws IOException, InterruptedException {
        Files.writeString(dir.resolve("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                + "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n");
        Files.writeString(dir.resolve("client.ext"), "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n");
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
                "-days", "1", "-subj", "/CN=converge bench CA");
        for (String who : List.of("server", "client")) {
            openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", who + "-key.pem", "-out", who + ".csr",
                    "-subj", who.equals("server") ? "/O=converge/CN=localhost" : "/O=converge/CN=bench-client");
            openssl(dir, "x509", "-req", "-in", who + ".csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
                    "-CAcreateserial", "-out", who + "-cert.pem", "-days", "1", "-extfile", who + ".ext");
        }
    }

    private static void openssl(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException("openssl " + args[0] + " failed: " + out.strip());
        }
    }
}
