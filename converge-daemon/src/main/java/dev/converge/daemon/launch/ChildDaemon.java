package dev.converge.daemon.launch;

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
 * A QMP daemon run as a child process: {@code converged} (with the JVM and class path of the
 * current one, so it needs nothing but the jars we run from) or a peer such as
 * qemu-storage-daemon or qemu-system, all driven by the same QMP client. The one launcher of the
 * demo and the benchmarks.
 *
 * <p>The child writes its output to {@code NAME.log} and listens for QMP on a UNIX socket. It
 * offers no readiness signal but that socket, so {@link #connect} waits for it with a deadline,
 * failing early (with the log) if the child exits. {@link #close} ends the child: {@code quit}
 * over QMP first, then SIGTERM, then SIGKILL, so nothing is left running.
 */
public final class ChildDaemon implements AutoCloseable {
    private static final Duration GRACE = Duration.ofSeconds(10);
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    private final String name;
    private final Process process;
    private final Path socket;
    private final Path log;

    private ChildDaemon(String name, Process process, Path socket, Path log) {
        this.name = name;
        this.process = process;
        this.socket = socket;
        this.log = log;
    }

    /**
     * Starts {@code converged --qmp unix:DIR/NAME.qmp ARGS...} in a JVM like the current one.
     *
     * @param name names the socket, the log and the child in errors
     */
    public static ChildDaemon converged(String name, Path dir, List<String> args) throws IOException {
        Path socket = dir.resolve(name + ".qmp");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC",
                "-cp", System.getProperty("java.class.path"), "dev.converge.daemon.Converged",
                "--qmp", "unix:" + socket));
        cmd.addAll(args);
        return start(name, cmd, dir, socket);
    }

    /**
     * Starts {@code command}, which must serve QMP on {@code socket}; its output goes to DIR/NAME.log.
     */
    public static ChildDaemon start(String name, List<String> command, Path dir, Path socket) throws IOException {
        return start(name, new ProcessBuilder(command), dir, socket);
    }

    /**
     * Starts {@code builder} (its command and environment as given), which must serve QMP on
     * {@code socket}; its output goes to DIR/NAME.log.
     */
    public static ChildDaemon start(String name, ProcessBuilder builder, Path dir, Path socket) throws IOException {
        Path log = dir.resolve(name + ".log");
        Process p = builder.redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new ChildDaemon(name, p, socket, log);
    }

    /** Whether an executable is on the PATH (peers are optional: callers say when they skip one). */
    public static boolean onPath(String exe) {
        for (String p : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(p, exe))) {
                return true;
            }
        }
        return false;
    }

    /**
     * Connects once the child listens.
     *
     * @throws IOException when the child exits first (with its log) or does not listen within {@code deadline}
     */
    public QmpClient connect(Duration deadline) throws IOException {
        long end = System.nanoTime() + deadline.toNanos();
        while (true) {
            if (!process.isAlive()) {
                throw new IOException(name + " exited with status " + process.exitValue() + ": " + log());
            }
            if (Files.exists(socket)) {
                try {
                    return QmpClient.connect("unix:" + socket);
                } catch (QmpClientException e) {
                    // the socket file exists before the child accepts on it: try again below
                }
            }
            if (System.nanoTime() > end) {
                throw new IOException(name + " did not listen on " + socket + " within " + deadline.toSeconds() + " s");
            }
            LockSupport.parkNanos(POLL_NANOS);
        }
    }

    public String name() {
        return name;
    }

    public Path socket() {
        return socket;
    }

    public ProcessHandle handle() {
        return process.toHandle();
    }

    public long pid() {
        return process.pid();
    }

    /** What the child printed (warnings, errors), for failure reports. */
    public String log() {
        try {
            return Files.readString(log).strip();
        } catch (IOException e) {
            return "(log unreadable: " + e.getMessage() + ")";
        }
    }

    /** Ends the child (quit, then SIGTERM, then SIGKILL after a grace period each) and waits for it. */
    @Override
    public void close() {
        if (process.isAlive()) {
            try (QmpClient c = QmpClient.connect("unix:" + socket)) {
                c.execute("quit");
            } catch (RuntimeException e) {
                process.destroy(); // not answering QMP (or not yet): SIGTERM
            }
        }
        try {
            if (!process.waitFor(GRACE.toSeconds(), TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(GRACE.toSeconds(), TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(GRACE.toSeconds(), TimeUnit.SECONDS);
                }
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
