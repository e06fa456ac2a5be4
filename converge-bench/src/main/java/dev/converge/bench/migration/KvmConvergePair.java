package dev.converge.bench.migration;

import dev.converge.qmp.client.QmpClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Two converged daemons with {@code --machine accel=kvm,memory=M,vcpus=1,guest=IMAGE,serial=file:LOG},
 * started as shipped ({@code bin/converged}, {@link dev.converge.bench.Daemons#converged}): the boot sector QEMU
 * runs too, on real KVM vCPUs. The daemons, their clients and the state check
 * ({@code query-machine-digest} on both sides) are a {@link ConvergePair}'s; the guest's serial
 * marks ('A' at start, 'B' after each pass over its RAM) tell when it is in its steady state and
 * that the destination runs it on.
 */
final class KvmConvergePair implements GuestPair {
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final ConvergePair daemons;
    private final Path sourceSerial;
    private final Path destinationSerial;

    private final Path dir;

    private KvmConvergePair(Path dir, ConvergePair daemons, Path sourceSerial, Path destinationSerial) {
        this.dir = dir;
        this.daemons = daemons;
        this.sourceSerial = sourceSerial;
        this.destinationSerial = destinationSerial;
    }

    static KvmConvergePair start(Path dir, Scenario scenario, byte[] bootSector, ProcessReaper reaper, Duration connectDeadline)
            throws IOException, SideUnavailableException {
        Path image = dir.resolve("boot.img");
        Files.createDirectories(dir);
        Files.write(image, bootSector);
        Path srcSerial = dir.resolve("serial-src.log");
        Path dstSerial = dir.resolve("serial-dst.log");
        String spec = "accel=kvm,memory=" + (scenario.memory() >> 20) + "M,vcpus=1,guest=" + image;
        String level = System.getProperty("converge.bench.daemon-log-level", "info");
        ConvergePair daemons = ConvergePair.start(dir, scenario, reaper, connectDeadline,
                new String[] {"--machine", spec + ",serial=file:" + srcSerial, "--log-level", level},
                new String[] {"--machine", spec + ",serial=file:" + dstSerial, "--incoming", "defer", "--log-level", level});
        return new KvmConvergePair(dir, daemons, srcSerial, dstSerial);
    }

    @Override
    public QmpClient source() {
        return daemons.source();
    }

    @Override
    public QmpClient destination() {
        return daemons.destination();
    }

    /** Waits for "ABB" on the source's serial port: the second pass is done, so every page was touched once. */
    @Override
    public String awaitWorkloadRunning(Duration deadline) {
        long marks = awaitSerial(sourceSerial, 3, deadline, "source");
        return "source guest wrote " + marks + " serial marks";
    }

    @Override
    public long sourceSerialBytes() {
        return serialBytes(sourceSerial);
    }

    static long serialBytes(Path file) {
        try {
            return Files.exists(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    @Override
    public String compareState() {
        return daemons.compareState();
    }

    /** The destination's guest must go on: its own serial port gets pass marks. */
    @Override
    public String checkDestinationRuns(Duration deadline) {
        String status = destination().execute("query-status").path("status").asText();
        if (!status.equals("running")) {
            throw new CheckFailedException("converged destination is " + status + " after cont (expected: running)");
        }
        long marks = awaitSerial(destinationSerial, 1, deadline, "destination");
        return "destination guest runs on (" + marks + " pass marks)";
    }

    private static long awaitSerial(Path file, long atLeast, Duration deadline, String role) {
        long end = System.nanoTime() + deadline.toNanos();
        while (true) {
            long n = serialBytes(file);
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
        daemons.close();
        String keep = System.getProperty("converge.bench.keep-logs");
        if (keep != null) {
            try (var files = Files.walk(dir)) {
                for (Path p : files.filter(f -> f.toString().endsWith(".log")).toList()) {
                    Path to = Path.of(keep, dir.getFileName() + "-" + p.getParent().getFileName() + "-" + p.getFileName());
                    Files.createDirectories(to.getParent());
                    Files.copy(p, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            } catch (IOException e) {
                System.err.println("keeping the daemon logs failed: " + e);
            }
        }
    }
}
