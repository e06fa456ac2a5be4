package dev.converge.bench.migration;

import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.client.QmpClientException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * One {@code qemu-system-x86_64} process booting {@link GuestImage} with a QMP monitor on a UNIX
 * socket: {@code -nodefaults -nographic -machine pc -accel A -m SIZE -drive file=IMG,format=raw,if=ide
 * -qmp unix:SOCK,server=on,wait=off} (and {@code -incoming defer} for a destination).
 */
public final class QemuGuest implements AutoCloseable {
    /** The QEMU binary Debian's qemu-system-x86 installs. */
    public static final String BINARY = "qemu-system-x86_64";

    /** How QEMU runs the guest's code. */
    public enum Accel {
        KVM, TCG;

        /** The {@code -accel} value. */
        public String option() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        /** KVM when /dev/kvm opens for reading and writing (what QEMU needs), else TCG. */
        public static Accel detect() {
            try (FileChannel ch = FileChannel.open(Path.of("/dev/kvm"), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                return KVM;
            } catch (IOException | UnsupportedOperationException | SecurityException e) {
                return TCG;
            }
        }
    }

    private final String name;
    private final Process process;
    private final Path socket;
    private final Path log;
    private final ProcessReaper reaper;

    private QemuGuest(String name, Process process, Path socket, Path log, ProcessReaper reaper) {
        this.name = name;
        this.process = process;
        this.socket = socket;
        this.log = log;
        this.reaper = reaper;
    }

    /**
     * Starts QEMU in {@code dir} (socket {@code NAME.sock}, log {@code NAME.log}).
     *
     * @param incoming whether it waits for an incoming migration ({@code -incoming defer})
     */
    public static QemuGuest launch(Path dir, String name, Accel accel, long memory, Path image, boolean incoming,
            ProcessReaper reaper) throws IOException {
        Path socket = dir.resolve(name + ".sock");
        Path log = dir.resolve(name + ".log");
        List<String> cmd = new ArrayList<>(List.of(BINARY, "-nodefaults", "-nographic", "-machine", "pc",
                "-accel", accel.option(), "-m", (memory >> 20) + "M",
                "-drive", "file=" + image + ",format=raw,if=ide",
                "-qmp", "unix:" + socket + ",server=on,wait=off"));
        if (incoming) {
            cmd.addAll(List.of("-incoming", "defer"));
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        reaper.track(p.toHandle());
        return new QemuGuest(name, p, socket, log, reaper);
    }

    /**
     * Connects once QEMU listens. QEMU offers no readiness signal but the socket file, so this
     * polls for it (every 20 ms) until {@code deadline}.
     *
     * @throws IOException when QEMU exits first (with its log) or does not listen in time
     */
    public QmpClient connect(Duration deadline) throws IOException {
        long end = System.nanoTime() + deadline.toNanos();
        while (true) {
            if (!process.isAlive()) {
                throw new IOException(name + " (qemu) exited with " + process.exitValue() + ": " + Files.readString(log).strip());
            }
            if (Files.exists(socket)) {
                try {
                    return QmpClient.connect("unix:" + socket);
                } catch (QmpClientException e) {
                    // The socket file exists before QEMU accepts on it: try again below.
                }
            }
            if (System.nanoTime() > end) {
                throw new IOException(name + " (qemu) did not listen on " + socket + " within " + deadline);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }

    /** What QEMU printed (warnings, errors), for failure reports. */
    public String log() {
        try {
            return Files.readString(log).strip();
        } catch (IOException e) {
            return "(log unreadable: " + e.getMessage() + ")";
        }
    }

    /** Kills QEMU (SIGTERM, then SIGKILL after 10 s) and waits for it. */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        } finally {
            reaper.forget(process.toHandle());
        }
    }
}
