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
 * Two converged daemons with {@code --machine accel=kvm,memory=M,vcpus=1,guest=IMAGE,serial=file:LOG}:
 * the boot sector QEMU runs too, on real KVM vCPUs. The guest's serial marks ('A' at start, 'B'
 * after each pass over its RAM) tell when it is in its steady state and that the destination
 * runs it on; the state check is {@code query-machine-digest} on both sides.
 */
final class KvmConvergePair implements GuestPair {
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final ChildDaemon sourceDaemon;
    private final ChildDaemon destinationDaemon;
    private final QmpClient source;
    private final QmpClient destination;
    private final ProcessReaper reaper;
    private final Path sourceSerial;
    private final Path destinationSerial;

    private KvmConvergePair(ChildDaemon sourceDaemon, ChildDaemon destinationDaemon, QmpClient source, QmpClient destination,
            ProcessReaper reaper, Path sourceSerial, Path destinationSerial) {
        this.sourceDaemon = sourceDaemon;
        this.destinationDaemon = destinationDaemon;
        this.source = source;
        this.destination = destination;
        this.reaper = reaper;
        this.sourceSerial = sourceSerial;
        this.destinationSerial = destinationSerial;
    }

    static KvmConvergePair start(Path dir, Scenario scenario, byte[] bootSector, ProcessReaper reaper, Duration connectDeadline)
            throws IOException {
        Path image = dir.resolve("boot.img");
        Files.write(image, bootSector);
        Path srcDir = Files.createDirectories(dir.resolve("converge-src"));
        Path dstDir = Files.createDirectories(dir.resolve("converge-dst"));
        Path srcSerial = srcDir.resolve("serial.log");
        Path dstSerial = dstDir.resolve("serial.log");
        String spec = "accel=kvm,memory=" + (scenario.memory() >> 20) + "M,vcpus=1,guest=" + image;
        ChildDaemon src = null;
        ChildDaemon dst = null;
        QmpClient srcClient = null;
        try {
            src = Daemons.converged(srcDir, "--machine", spec + ",serial=file:" + srcSerial);
            ProcessHandle.of(src.pid()).ifPresent(reaper::track);
            dst = Daemons.converged(dstDir, "--machine", spec + ",serial=file:" + dstSerial, "--incoming", "defer");
            ProcessHandle.of(dst.pid()).ifPresent(reaper::track);
            srcClient = src.connect(connectDeadline);
            QmpClient dstClient = dst.connect(connectDeadline);
            return new KvmConvergePair(src, dst, srcClient, dstClient, reaper, srcSerial, dstSerial);
        } catch (IOException | RuntimeException e) {
            if (srcClient != null) {
                srcClient.close();
            }
            closeQuietly(dst, reaper);
            closeQuietly(src, reaper);
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

    /** Waits for "ABB" on the source's serial port: the second pass is done, so every page was touched once. */
    @Override
    public String awaitWorkloadRunning(Duration deadline) {
        long marks = awaitSerial(sourceSerial, 3, deadline, "source");
        return "source guest wrote " + marks + " serial marks";
    }

    @Override
    public String compareState() {
        String src = source.execute("query-machine-digest").path("ram").asText();
        String dst = destination.execute("query-machine-digest").path("ram").asText();
        if (src.isEmpty() || !src.equals(dst)) {
            throw new CheckFailedException("query-machine-digest differs after migration: source ram " + src + ", destination " + dst);
        }
        return "RAM digests equal (" + src.substring(0, Math.min(12, src.length())) + "…)";
    }

    /** The destination's guest must go on: its own serial port gets pass marks. */
    @Override
    public String checkDestinationRuns(Duration deadline) {
        String status = destination.execute("query-status").path("status").asText();
        if (!status.equals("running")) {
            throw new CheckFailedException("converged destination is " + status + " after cont (expected: running)");
        }
        long marks = awaitSerial(destinationSerial, 1, deadline, "destination");
        return "destination guest runs on (" + marks + " pass marks)";
    }

    private static long awaitSerial(Path file, long atLeast, Duration deadline, String role) {
        long end = System.nanoTime() + deadline.toNanos();
        while (true) {
            long n;
            try {
                n = Files.exists(file) ? Files.size(file) : 0;
            } catch (IOException e) {
                n = 0;
            }
            if (n >= atLeast) {
                return n;
            }
            if (System.nanoTime() > end) {
                throw new CheckFailedException(role + " guest wrote " + n + " serial bytes within " + deadline + " (expected: >= " + atLeast + ")");
            }
            LockSupport.parkNanos(POLL_NANOS);
        }
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
            reaper.forgetPid(d.pid());
        }
    }
}
