package dev.converge.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The dependency rules of package-info.java in dev.converge.nbd, checked on the sources: which
 * package may not import which (imports are how a package reaches another; same-package use needs none).
 */
class PackageRulesTest {
    private static final Path MAIN = Path.of("src/main/java/dev/converge/nbd");

    /**
     * The exceptions: dev.converge.qmp.net is generic socket plumbing (listen backlog, private UNIX
     * socket files) and dev.converge.qmp.tls generic TLS plumbing (transports, SSL contexts from
     * tls-creds-x509 directories) shared by QMP, NBD and migration; they live in converge-qmp only
     * because that is the module below all of them, and they know nothing of QMP.
     */
    private static final String SHARED_SOCKETS = "import dev.converge.qmp.net.";
    private static final String SHARED_TLS = "import dev.converge.qmp.tls.";

    @ParameterizedTest(name = "nbd.{0} does not import {1}")
    @CsvSource({
        "client,    dev.converge.nbd.server",
        "client,    dev.converge.nbd.qmp",
        "driver,    dev.converge.nbd.server",
        "driver,    dev.converge.nbd.qmp",
        "transport, dev.converge.nbd.server",
        "transport, dev.converge.nbd.client",
        "server,    dev.converge.nbd.client",
        "server,    dev.converge.block",
        "server,    dev.converge.qmp",
        "wire,      dev.converge.nbd.server",
        "wire,      dev.converge.nbd.transport",
        "wire,      dev.converge.qmp",
    })
    void packageDoesNotImport(String pkg, String forbidden) throws IOException {
        List<String> offending;
        try (Stream<Path> files = Files.list(MAIN.resolve(pkg))) {
            offending = files.filter(f -> f.toString().endsWith(".java")).flatMap(f -> {
                try {
                    return Files.readAllLines(f).stream().filter(l -> l.startsWith("import " + forbidden + ".")
                            || l.startsWith("import static " + forbidden + ".")).filter(l -> !l.startsWith(SHARED_SOCKETS) && !l.startsWith(SHARED_TLS))
                            .map(l -> f.getFileName() + ": " + l);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).toList();
        }
        assertThat(offending).isEmpty();
    }
}
