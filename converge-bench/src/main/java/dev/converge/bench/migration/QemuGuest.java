package dev.converge.bench.migration;

import dev.converge.daemon.launch.ChildDaemon;
import dev.converge.qmp.client.QmpClient;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

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

    private final ChildDaemon child;
    private final ProcessReaper reaper;

    private QemuGuest(ChildDaemon child, ProcessReaper reaper) {
        this.child = child;
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
        List<String> cmd = new ArrayList<>(List.of(BINARY, "-nodefaults", "-nographic", "-machine", "pc",
                "-accel", accel.option(), "-m", (memory >> 20) + "M",
                "-drive", "file=" + image + ",format=raw,if=ide",
                "-qmp", "unix:" + socket + ",server=on,wait=off", "-serial", "file:" + serialLog(dir, name)));
        if (incoming) {
            cmd.addAll(List.of("-incoming", "defer"));
        }
        ChildDaemon child = ChildDaemon.start(name, cmd, dir, socket);
        reaper.track(child.handle());
        return new QemuGuest(child, reaper);
    }

    /** Where the guest's serial port (COM1, 0x3f8) writes, in {@code dir}. */
    static Path serialLog(Path dir, String name) {
        return dir.resolve(name + "-serial.log");
    }

    /**
     * Connects once QEMU listens.
     *
     * @throws IOException when QEMU exits first (with its log) or does not listen in time
     */
    public QmpClient connect(Duration deadline) throws IOException {
        return child.connect(deadline);
    }

    /** What QEMU printed (warnings, errors), for failure reports. */
    public String log() {
        return child.log();
    }

    /** Ends QEMU (quit, then SIGTERM, then SIGKILL) and waits for it. */
    @Override
    public void close() {
        try {
            child.close();
        } finally {
            reaper.forget(child.handle());
        }
    }
}
