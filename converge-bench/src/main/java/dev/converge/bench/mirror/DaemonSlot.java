package dev.converge.bench.mirror;

import dev.converge.bench.Daemons;
import dev.converge.daemon.launch.ChildDaemon;
import dev.converge.qmp.client.QmpClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * One side's daemon, started on first use and kept across runs (converged keeps its warmed-up JIT,
 * both keep their process); restarted after a run that failed, since such a run may leave nodes
 * behind. Used by the benchmark thread only.
 */
final class DaemonSlot implements AutoCloseable {
    private static final Duration START = Duration.ofSeconds(60);

    private final Side side;
    private final Path dir;
    /** The running daemon, or null before the first run and after {@link #discard}. Like every field: benchmark thread only. */
    private ChildDaemon process;
    /** Connection to {@link #process}; null when it is. */
    private QmpClient qmp;
    /** Stamps the events of {@link #qmp}; null when it is. */
    private MirrorRun.EventClock clock;
    /** The current daemon's NBD socket path (in its own directory). */
    private Path nbdSocket;
    /** Daemons started so far: each gets its own directory, so no stale socket of a previous one is seen. */
    private int starts;

    DaemonSlot(Side side, Path dir) {
        this.side = side;
        this.dir = dir;
    }

    Side side() {
        return side;
    }

    /** Where this side's NBD server listens in the writer case; valid after {@link #runner}. */
    Path nbdSocket() {
        return nbdSocket;
    }

    /** The run on the running daemon, starting it if needed. */
    MirrorRun runner() throws IOException {
        if (process == null) {
            Path own = Files.createDirectories(dir.resolve(side.name().toLowerCase(Locale.ROOT) + "-" + ++starts));
            nbdSocket = own.resolve("nbd.sock");
            process = switch (side) {
                case CONVERGED -> Daemons.converged(own);
                case QSD -> Daemons.qemuStorageDaemon(own);
            };
            qmp = process.connect(START);
            clock = MirrorRun.EventClock.attach(qmp);
        }
        return new MirrorRun(qmp, clock);
    }

    /** Stops the daemon; the next {@link #runner} starts a fresh one. */
    void discard() throws IOException {
        try {
            if (qmp != null) {
                qmp.close();
            }
        } finally {
            qmp = null;
            clock = null;
            if (process != null) {
                try {
                    process.close();
                } finally {
                    process = null;
                }
            }
        }
    }

    @Override
    public void close() throws IOException {
        discard();
    }
}
