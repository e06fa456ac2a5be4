package dev.converge.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.qmp.client.QmpClient;
import dev.converge.testing.TestTimeouts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code converged} as a real process: SIGTERM ends it cleanly, as quit does. */
@Tag("integration")
class ConvergedProcessTest {
    @TempDir
    Path dir;

    private Process start(Path socket, String... extra) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Converged.class.getName(), "--qmp", "unix:" + socket));
        cmd.addAll(List.of(extra));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile()).start();
    }

    @Test
    void sigtermClosesTheSocketAndExitsWithZero() throws Exception {
        Path socket = dir.resolve("qmp.sock");
        Process p = start(socket);
        try {
            // The process says nothing when it listens: wait until a QMP session works.
            await().atMost(TestTimeouts.MEDIUM).ignoreExceptions().until(() -> {
                try (QmpClient c = QmpClient.connect("unix:" + socket)) {
                    return c.execute("query-status").path("status").asText().equals("running");
                }
            });
            p.destroy(); // SIGTERM
            assertThat(p.waitFor(TestTimeouts.MEDIUM.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(Files.readString(dir.resolve("log"))).isZero();
            assertThat(socket).doesNotExist();
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void badOptionsAreRefusedWithAClearMessage() throws Exception {
        Process p = start(dir.resolve("x.sock"), "--incoming", "defer");
        assertThat(p.waitFor(TestTimeouts.MEDIUM.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(Files.readString(dir.resolve("log"))).contains("--machine");
    }
}
