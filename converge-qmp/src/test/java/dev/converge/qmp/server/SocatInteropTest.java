package dev.converge.qmp.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.sockets.UnixSocketAddress;
import dev.converge.qmp.wire.QmpJson;
import dev.converge.testing.QmpTestServer;
import dev.converge.testing.TestTimeouts;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** A real peer: socat pipes a QMP session, as operators do by hand. Skipped without socat. */
@Tag("integration")
class SocatInteropTest {
    @Test
    void socatSessionOverUnixSocket() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/socat")), "socat not installed");
        try (QmpTestServer qmp = QmpTestServer.start(new QmpRegistry())) {
            Path sock = ((UnixSocketAddress) qmp.address()).path();
            Process p = new ProcessBuilder("/usr/bin/socat", "-t", "30", "-", "UNIX-CONNECT:" + sock)
                    .redirectErrorStream(true).start();
            p.getOutputStream().write("""
                    { "execute": "qmp_capabilities" }
                    { "execute": "query-version", "id": "v" }
                    { "execute": "query-commands" }
                    """.getBytes(StandardCharsets.UTF_8));
            p.getOutputStream().close();
            assertThat(p.waitFor(TestTimeouts.MEDIUM.toNanos(), TimeUnit.NANOSECONDS)).as("socat ends").isTrue();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            List<JsonNode> lines = new ArrayList<>();
            for (String line : out.split("\r\n")) {
                lines.add(QmpJson.parse(line));
            }
            assertThat(lines).hasSize(4);
            assertThat(lines.get(0).has("QMP")).isTrue();
            assertThat(lines.get(1)).isEqualTo(QmpJson.parse("{\"return\": {}}"));
            assertThat(lines.get(2).path("return").path("package").asText()).isEqualTo("converge 0.1.0");
            assertThat(lines.get(2).path("id").asText()).isEqualTo("v");
            assertThat(lines.get(3).path("return").isArray()).isTrue();
        }
    }
}
