package dev.converge.daemon.demo;

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
 * A {@code converged} child process of the demo, started with the JVM and class path of the
 * current one, so the demo needs nothing but the jars it runs from. Closing it ends the process
 * (quit first, then SIGTERM, then SIGKILL) so the demo never leaves processes behind.
 */
final class DaemonLauncher implements AutoCloseable {
    private final String name;
    private final Process process;
    private final Path socket;
    private final Path log;

    private DaemonLauncher(String name, Process process, Path socket, Path log) {
        this.name = name;
        this.process = process;
        this.socket = socket;
        this.log = log;
    }

    static DaemonLauncher start(String name, Path dir, List<String> args) throws IOException {
        Path socket = dir.resolve(name + ".qmp");
        Path log = dir.resolve(name + ".log");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC",
                "-cp", System.getProperty("java.class.path"), "dev.converge.daemon.Converged",
                "--qmp", "unix:" + socket));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new DaemonLauncher(name, p, socket, log);
    }

    /**
     * Connects once the daemon listens. The child gives no other readiness signal than its
     * socket, so this waits for the socket with a deadline, failing early if the child exits.
     */
    QmpClient connect(Duration deadline) throws IOException {
        long end = System.nanoTime() + deadline.toNanos();
        while (true) {
            if (!process.isAlive()) {
                throw new IOException(name + " daemon exited with status " + process.exitValue() + ": "
                        + Files.readString(log).strip());
            }
            if (Files.exists(socket)) {
                try {
                    return QmpClient.connect("unix:" + socket);
                } catch (QmpClientException e) {
                    // bound but not accepting yet
                }
            }
            if (System.nanoTime() > end) {
                throw new IOException(name + " daemon did not listen within " + deadline.toSeconds() + " s");
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
    }

    Path socket() {
        return socket;
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            try (QmpClient c = QmpClient.connect("unix:" + socket)) {
                c.execute("quit");
            } catch (RuntimeException e) {
                process.destroy();
            }
        }
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
