package dev.converge.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A test CA with a server certificate (CN=localhost, SAN 127.0.0.1) and a client certificate
 * (O=converge, CN=client1), in the layout of QEMU's tls-creds-x509 directories.
 */
public final class Pki {
    /** The client certificate's subject as RFC 2253 prints it. */
    public static final String CLIENT_DN = "CN=client1,O=converge";

    private Pki() {
    }

    /** Writes ca-cert.pem, server-{cert,key}.pem, client-{cert,key}.pem into {@code dir}; skips without openssl. */
    public static void generate(Path dir) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")), "openssl is not installed: skipping");
        Files.writeString(dir.resolve("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                + "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n");
        Files.writeString(dir.resolve("client.ext"), "extendedKeyUsage=clientAuth\n"
                + "keyUsage=digitalSignature,keyEncipherment\n");
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
                "-days", "2", "-subj", "/CN=converge test CA");
        for (String who : List.of("server", "client")) {
            String cn = who.equals("server") ? "/O=converge/CN=localhost" : "/O=converge/CN=client1";
            openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", who + "-key.pem", "-out", who + ".csr",
                    "-subj", cn);
            openssl(dir, "x509", "-req", "-in", who + ".csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
                    "-CAcreateserial", "-out", who + "-cert.pem", "-days", "2", "-extfile", who + ".ext");
        }
    }

    private static void openssl(Path dir, String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "openssl";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
    }
}
