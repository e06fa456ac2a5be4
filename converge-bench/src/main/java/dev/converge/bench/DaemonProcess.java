package dev.converge.bench;

import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.client.QmpClientException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A QMP daemon run as a separate process for a benchmark: converged or a peer such as
 * qemu-storage-daemon, both driven by the same QMP client so that they are measured alike.
 */
public final class DaemonProcess implements AutoCloseable {
    private final String name;
    private final Process process;
    private final Path socket;
    private final Path log;

    private DaemonProcess(String name, Process process, Path socket, Path log) {
        this.name = name;
        this.process = process;
        this.socket = socket;
        this.log = log;
    }

    /** converged, from the jars next to this benchmark (converge-bench/target/lib). */
    public static DaemonProcess converged(Path dir, String... extraArgs) throws IOException {
        Path socket = dir.resolve("converged.sock");
        List<String> cmd = new ArrayList<>(List.of(javaBin(), "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC",
                "-cp", System.getProperty("java.class.path"), "dev.converge.daemon.Converged", "--qmp", "unix:" + socket));
        cmd.addAll(List.of(extraArgs));
        return start("converged", cmd, dir, socket);
    }

    /** qemu-storage-daemon with one QMP monitor on a UNIX socket. */
    public static DaemonProcess qemuStorageDaemon(Path dir, String... extraArgs) throws IOException {
        Path socket = dir.resolve("qsd.sock");
        List<String> cmd = new ArrayList<>(List.of("qemu-storage-daemon",
                "--chardev", "socket,id=qmp0,path=" + socket + ",server=on,wait=off", "--monitor", "chardev=qmp0"));
        cmd.addAll(List.of(extraArgs));
        return start("qemu-storage-daemon", cmd, dir, socket);
    }

    /** Whether an executable is on the PATH (peers are optional: a benchmark says when it skips one). */
    public static boolean onPath(String exe) {
        for (String p : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(p, exe))) {
                return true;
            }
        }
        return false;
    }

    private static DaemonProcess start(String name, List<String> cmd, Path dir, Path socket) throws IOException {
        Path log = dir.resolve(name + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new DaemonProcess(name, p, socket, log);
    }

    /**
     * Connects once the daemon listens. A benchmark harness, not a test: it polls for the socket
     * with a deadline because a foreign process offers no readiness signal other than the socket.
     */
    public QmpClient connect(Duration deadline) throws IOException {
        long end = System.nanoTime() + deadline.toNanos();
        while (true) {
            if (!process.isAlive()) {
                throw new IOException(name + " exited with " + process.exitValue() + ": " + Files.readString(log));
            }
            if (Files.exists(socket)) {
                try {
                    return QmpClient.connect("unix:" + socket);
                } catch (QmpClientException e) {
                    // listening socket file exists but accept not yet ready: retry below
                }
            }
            if (System.nanoTime() > end) {
                throw new IOException(name + " did not listen within " + deadline);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }

    public String name() {
        return name;
    }

    public long pid() {
        return process.pid();
    }

    @Override
    public void close() throws IOException {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }
}
