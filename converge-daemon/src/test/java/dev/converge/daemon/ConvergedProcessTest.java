package dev.converge.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.qmp.client.QmpClient;
import dev.converge.testing.TestTimeouts;
import java.nio.file.Files;
import java.nio.file.Path;
import dev.converge.daemon.service.DatagramReceiver;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
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
        List<String> args = new java.util.ArrayList<>(List.of("--qmp", "unix:" + socket));
        args.addAll(List.of(extra));
        return converged(args, Map.of(), dir.resolve("log"));
    }

    private static Process converged(List<String> args, Map<String, String> env, Path log) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Converged.class.getName()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        return pb.start();
    }

    /** StderrLogProvider's lines (LogSetup binds it): ISO timestamp with zone, level, short logger name. */
    private static final Pattern LOG_LINE = Pattern.compile(
            "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}(Z|[+-]\\d\\d:\\d\\d) (ERROR|WARN|INFO|DEBUG|TRACE) \\S+ - .*");

    @Test
    void qemuStorageDaemonsCommandLineDaemonizesWithPidfileAndNotifiesSystemd() throws Throwable {
        Path disk = dir.resolve("disk.raw");
        byte[] data = new byte[1 << 20];
        new java.util.Random(17).nextBytes(data);
        Files.write(disk, data);
        Path qmp = dir.resolve("qmp.sock");
        Path nbd = dir.resolve("nbd.sock");
        Path pidfile = dir.resolve("converged.pid");
        Path notify = dir.resolve("notify.sock");
        List<String> qsd = List.of("--chardev", "socket,id=mon0,path=" + qmp + ",server=on,wait=off",
                "--monitor", "chardev=mon0",
                "--blockdev", "driver=file,node-name=file0,filename=" + disk,
                "--blockdev", "{\"driver\": \"raw\", \"node-name\": \"disk0\", \"file\": \"file0\"}",
                "--object", "authz-simple,id=authz0,identity=CN=client",
                "--nbd-server", "addr.type=unix,addr.path=" + nbd + ",max-connections=2",
                "--export", "type=nbd,id=export0,node-name=disk0,name=disk,writable=off",
                "--pidfile", pidfile.toString(), "--daemonize");
        long pid;
        try (DatagramReceiver systemd = new DatagramReceiver(notify, TestTimeouts.MEDIUM.toSeconds())) {
            Process parent = converged(qsd, Map.of("NOTIFY_SOCKET", notify.toString()), dir.resolve("parent.log"));
            // --daemonize returns once the daemon serves: no polling for the socket.
            assertThat(parent.waitFor(TestTimeouts.MEDIUM.toSeconds(), TimeUnit.SECONDS)).isTrue();
            String parentLog = Files.readString(dir.resolve("parent.log"));
            assertThat(parent.exitValue()).as(parentLog).isZero();
            assertThat(parentLog.lines()).isNotEmpty().allMatch(l -> LOG_LINE.matcher(l).matches());
            pid = Long.parseLong(Files.readString(pidfile).strip());
            assertThat(pid).isNotEqualTo(parent.pid());
            assertThat(systemd.receive()).startsWith("READY=1\nSTATUS=serving QMP on [unix:" + qmp);
        }
        ProcessHandle daemon = ProcessHandle.of(pid).orElseThrow();
        try {
            try (QmpClient c = QmpClient.connect("unix:" + qmp)) {
                assertThat(c.execute("query-named-block-nodes").findValuesAsText("node-name"))
                        .contains("file0", "disk0");
                assertThat(c.execute("query-block-exports").findValuesAsText("id")).containsExactly("export0");
            }
            // The export serves the file's bytes (qemu-img reads them over NBD when present).
            assumeQemuImg();
            Path copy = dir.resolve("copy.raw");
            Process img = new ProcessBuilder("qemu-img", "convert", "-f", "raw", "-O", "raw",
                    "nbd+unix:///disk?socket=" + nbd, copy.toString()).redirectErrorStream(true).start();
            assertThat(img.waitFor(TestTimeouts.MEDIUM.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(img.exitValue()).as(new String(img.getInputStream().readAllBytes())).isZero();
            assertThat(Files.readAllBytes(copy)).isEqualTo(data);

            // A second daemon with the same pid file refuses to start.
            Process second = converged(List.of("--qmp", "unix:" + dir.resolve("second.sock"), "--pidfile",
                    pidfile.toString()), Map.of(), dir.resolve("second.log"));
            assertThat(second.waitFor(TestTimeouts.MEDIUM.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(second.exitValue()).isEqualTo(1);
            assertThat(Files.readString(dir.resolve("second.log"))).contains("Cannot lock pid file");
            assertThat(Files.readString(pidfile).strip()).isEqualTo(Long.toString(pid));
        } finally {
            try (QmpClient c = QmpClient.connect("unix:" + qmp)) {
                c.execute("quit");
            } catch (RuntimeException e) {
                daemon.destroy();
            }
            assertThat(daemon.onExit().get(TestTimeouts.MEDIUM.toSeconds(), TimeUnit.SECONDS).isAlive()).isFalse();
        }
        assertThat(pidfile).doesNotExist();
        assertThat(qmp).doesNotExist();
    }

    private static void assumeQemuImg() {
        boolean present = java.util.stream.Stream.of(System.getenv("PATH").split(":"))
                .anyMatch(p -> Files.isExecutable(Path.of(p, "qemu-img")));
        org.junit.jupiter.api.Assumptions.assumeTrue(present, "qemu-img not installed: the NBD read-back is skipped");
    }

    @Test
    void everyJobTransitionIsOneTimestampedLogLine() throws Exception {
        Path socket = dir.resolve("qmp.sock");
        Process p = start(socket, "--blockdev", "null-co,node-name=src,size=1048576", "--blockdev",
                "null-co,node-name=dst,size=1048576");
        try {
            await().atMost(TestTimeouts.MEDIUM).ignoreExceptions().until(() -> {
                assertThat(p.isAlive()).as("converged exited: %s", Files.readString(dir.resolve("log"))).isTrue();
                try (QmpClient c = QmpClient.connect("unix:" + socket)) {
                    return c.execute("query-status").path("status").asText().equals("running");
                }
            });
            try (QmpClient c = QmpClient.connect("unix:" + socket)) {
                var json = new com.fasterxml.jackson.databind.ObjectMapper();
                c.execute("blockdev-mirror", (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(
                        "{\"job-id\": \"m0\", \"device\": \"src\", \"target\": \"dst\", \"sync\": \"full\"}"));
                c.awaitEvent(e -> e.path("data").path("status").asText().equals("ready"), TestTimeouts.MEDIUM);
                c.execute("job-complete", json.createObjectNode().put("id", "m0"));
                c.awaitEvent(e -> e.path("data").path("status").asText().equals("null"), TestTimeouts.MEDIUM);
                c.execute("quit");
            }
            assertThat(p.waitFor(TestTimeouts.MEDIUM.toSeconds(), TimeUnit.SECONDS)).isTrue();
            List<String> lines = Files.readAllLines(dir.resolve("log"));
            assertThat(lines).allMatch(l -> LOG_LINE.matcher(l).matches());
            assertThat(lines).filteredOn(l -> l.contains(" - job 'm0'")).extracting(l -> l.replaceFirst(".* - ", ""))
                    .containsExactly("job 'm0': created", "job 'm0': running (was created)",
                            "job 'm0': ready (was running)", "job 'm0': waiting (was ready)",
                            "job 'm0': pending (was waiting)", "job 'm0': concluded (was pending)",
                            "job 'm0': dismissed");
        } finally {
            p.destroyForcibly();
        }
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
