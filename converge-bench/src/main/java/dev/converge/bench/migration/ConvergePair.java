package dev.converge.bench.migration;

import dev.converge.bench.Daemons;
import dev.converge.daemon.launch.ChildDaemon;
import dev.converge.qmp.client.QmpClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Two converged daemons with a machine of the scenario's size and workload:
 * {@code converged --qmp unix:S --machine memory=M,vcpus=1,workload=W} as the source and the same
 * with {@code --incoming defer} as the destination. The state check is converge's
 * {@code query-machine-digest} on both sides.
 */
public final class ConvergePair implements GuestPair {
    /** How often a digest is taken while waiting for the destination's workload to change RAM. */
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final Scenario scenario;
    private final ChildDaemon sourceDaemon;
    private final ChildDaemon destinationDaemon;
    private final QmpClient source;
    private final QmpClient destination;
    private final ProcessReaper reaper;
    /** The RAM digest both sides agreed on; written by {@link #compareState}, read by {@link #checkDestinationRuns}. */
    private String agreedDigest;

    private ConvergePair(Scenario scenario, ChildDaemon sourceDaemon, ChildDaemon destinationDaemon, QmpClient source,
            QmpClient destination, ProcessReaper reaper) {
        this.scenario = scenario;
        this.sourceDaemon = sourceDaemon;
        this.destinationDaemon = destinationDaemon;
        this.source = source;
        this.destination = destination;
        this.reaper = reaper;
    }

    /** The {@code --machine} value for {@code scenario}: memory in MiB as QEMU's {@code -m}. */
    static String machineSpec(Scenario scenario) {
        return "memory=" + (scenario.memory() >> 20) + "M,vcpus=1,workload=" + scenario.workload().wireName()
                + (scenario.dirtyRate() > 0 ? ",dirty-rate=" + scenario.dirtyRate() : "");
    }

    /**
     * Starts both daemons, each in its own subdirectory of {@code dir} (ChildDaemon names its
     * socket and log after the daemon).
     *
     * @throws SideUnavailableException when converged does not know {@code --machine} or {@code --incoming} yet
     */
    public static ConvergePair start(Path dir, Scenario scenario, ProcessReaper reaper, Duration connectDeadline)
            throws IOException, SideUnavailableException {
        String spec = machineSpec(scenario);
        return start(dir, scenario, reaper, connectDeadline, new String[] {"--machine", spec},
                new String[] {"--machine", spec, "--incoming", "defer"});
    }

    /**
     * Starts a source daemon with {@code sourceArgs} in {@code dir/converge-src} and a destination
     * with {@code destinationArgs} in {@code dir/converge-dst} (the KVM pair gives its own).
     */
    static ConvergePair start(Path dir, Scenario scenario, ProcessReaper reaper, Duration connectDeadline, String[] sourceArgs,
            String[] destinationArgs) throws IOException, SideUnavailableException {
        ChildDaemon src = null;
        ChildDaemon dst = null;
        QmpClient srcClient = null;
        try {
            src = Daemons.converged(Files.createDirectories(dir.resolve("converge-src")), sourceArgs);
            ProcessHandle.of(src.pid()).ifPresent(reaper::track);
            dst = Daemons.converged(Files.createDirectories(dir.resolve("converge-dst")), destinationArgs);
            ProcessHandle.of(dst.pid()).ifPresent(reaper::track);
            srcClient = src.connect(connectDeadline);
            QmpClient dstClient = dst.connect(connectDeadline);
            return new ConvergePair(scenario, src, dst, srcClient, dstClient, reaper);
        } catch (IOException | RuntimeException e) {
            if (srcClient != null) {
                srcClient.close();
            }
            closeQuietly(dst, reaper);
            closeQuietly(src, reaper);
            if (e.getMessage() != null && e.getMessage().contains("Unknown option")) {
                throw new SideUnavailableException("converged rejects its command line (" + firstLine(e.getMessage())
                        + "): it lacks --machine or --incoming");
            }
            throw e;
        }
    }

    @Override
    public QmpClient source() {
        return source;
    }

    @Override
    public QmpClient destination() {
        return destination;
    }

    @Override
    public String awaitWorkloadRunning(Duration deadline) {
        String status = source.execute("query-status").path("status").asText();
        if (!status.equals("running")) {
            throw new CheckFailedException("converged source is " + status + " (expected: running)");
        }
        return "source running " + scenario.workload().wireName();
    }

    @Override
    public String compareState() {
        String src = source.execute("query-machine-digest").path("ram").asText();
        String dst = destination.execute("query-machine-digest").path("ram").asText();
        if (src.isEmpty() || !src.equals(dst)) {
            throw new CheckFailedException("query-machine-digest differs after migration: source ram " + src
                    + ", destination " + dst);
        }
        agreedDigest = src;
        return "RAM digests equal (" + src.substring(0, Math.min(12, src.length())) + "…)";
    }

    @Override
    public String checkDestinationRuns(Duration deadline) {
        String status = destination.execute("query-status").path("status").asText();
        if (!status.equals("running")) {
            throw new CheckFailedException("converged destination is " + status + " after cont (expected: running)");
        }
        if (scenario.workload() == Workload.IDLE || agreedDigest == null) {
            return "destination running";
        }
        // The digest is only consistent while stopped; running, it just has to move away from the agreed one.
        long end = System.nanoTime() + deadline.toNanos();
        while (destination.execute("query-machine-digest").path("ram").asText().equals(agreedDigest)) {
            if (System.nanoTime() > end) {
                throw new CheckFailedException("converged destination runs but its RAM does not change within " + deadline);
            }
            LockSupport.parkNanos(POLL_NANOS);
        }
        return "destination running and writing";
    }

    @Override
    public void close() {
        try {
            source.close();
            destination.close();
        } finally {
            closeQuietly(destinationDaemon, reaper);
            closeQuietly(sourceDaemon, reaper);
        }
    }

    private static void closeQuietly(ChildDaemon d, ProcessReaper reaper) {
        if (d == null) {
            return;
        }
        try {
            d.close(); // kills forcibly after its grace periods: nothing is left running
        } finally {
            // After close the pid is gone, so forget by pid rather than by a fresh handle.
            reaper.forgetPid(d.pid());
        }
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }
}
