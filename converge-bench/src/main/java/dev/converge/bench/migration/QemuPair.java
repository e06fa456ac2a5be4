package dev.converge.bench.migration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.bench.Daemons;
import dev.converge.daemon.launch.ChildDaemon;
import dev.converge.qmp.client.QmpClient;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Two QEMU guests booting {@link GuestImage}: the source runs, the destination waits with
 * {@code -incoming defer}. The guest is observed with HMP through QMP's
 * {@code human-monitor-command} ({@code xp}, {@code info registers}) and compared with
 * {@code pmemsave} of all RAM on both sides.
 */
public final class QemuPair implements GuestPair {
    /** A page the pattern guest writes (and the idle guest never does): 2 MiB. */
    static final long PROBE_ADDRESS = 0x200000;
    /** How often a guest is looked at while waiting for it (a foreign process: no signal to wait on). */
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    /** pmemsave of a few GiB blocks QEMU's main loop for seconds: its reply may take that long. */
    private static final Duration PMEMSAVE_TIMEOUT = Duration.ofMinutes(5);
    private static final Pattern EIP = Pattern.compile("EIP=([0-9a-fA-F]{8})");
    private static final Pattern HLT = Pattern.compile("HLT=([01])");
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private final Scenario scenario;
    private final Path dir;
    private final QemuGuest sourceGuest;
    private final QemuGuest destinationGuest;
    private final QmpClient source;
    private final QmpClient destination;

    private QemuPair(Scenario scenario, Path dir, QemuGuest sourceGuest, QemuGuest destinationGuest, QmpClient source,
            QmpClient destination) {
        this.scenario = scenario;
        this.dir = dir;
        this.sourceGuest = sourceGuest;
        this.destinationGuest = destinationGuest;
        this.source = source;
        this.destination = destination;
    }

    /**
     * Writes the boot image into {@code dir} and starts both guests.
     *
     * @throws SideUnavailableException when qemu-system-x86_64 is not installed
     */
    public static QemuPair start(Path dir, Scenario scenario, QemuGuest.Accel accel, ProcessReaper reaper,
            Duration connectDeadline) throws IOException, SideUnavailableException {
        return start(dir, scenario, accel, reaper, connectDeadline, GuestImage.forWorkload(scenario.workload(), scenario.memory()));
    }

    /** {@link #start(Path, Scenario, QemuGuest.Accel, ProcessReaper, Duration)} booting {@code bootSector} instead. */
    public static QemuPair start(Path dir, Scenario scenario, QemuGuest.Accel accel, ProcessReaper reaper,
            Duration connectDeadline, byte[] bootSector) throws IOException, SideUnavailableException {
        if (!Daemons.onPath(QemuGuest.BINARY)) {
            throw new SideUnavailableException(QemuGuest.BINARY + " not found (apt-get install qemu-system-x86)");
        }
        Path image = dir.resolve("boot-" + scenario.workload().wireName() + ".img");
        Files.write(image, bootSector);
        QemuGuest src = null;
        QemuGuest dst = null;
        QmpClient srcClient = null;
        try {
            src = QemuGuest.launch(dir, "qemu-src", accel, scenario.memory(), image, false, reaper);
            dst = QemuGuest.launch(dir, "qemu-dst", accel, scenario.memory(), image, true, reaper);
            srcClient = src.connect(connectDeadline);
            QmpClient dstClient = dst.connect(connectDeadline);
            return new QemuPair(scenario, dir, src, dst, srcClient, dstClient);
        } catch (IOException | RuntimeException e) {
            if (srcClient != null) {
                srcClient.close();
            }
            if (dst != null) {
                dst.close();
            }
            if (src != null) {
                src.close();
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
    public long sourceSerialBytes() {
        return KvmConvergePair.serialBytes(QemuGuest.serialLog(dir, "qemu-src"));
    }

    @Override
    public String awaitWorkloadRunning(Duration deadline) {
        long end = System.nanoTime() + deadline.toNanos();
        awaitInBootSector(source, "source", end);
        if (scenario.workload() == Workload.IDLE) {
            return checkIdle(source, "source");
        }
        // Byte 2 at the probe page: the second pass reached it, so the first covered all of RAM
        // (the first touch of every page is the slow one under KVM; measure the steady state).
        int first = awaitProbeAtLeast(source, "source", 2, end);
        int later = awaitProbeChange(source, "source", first, end);
        return "source guest writes (byte at 0x" + Long.toHexString(PROBE_ADDRESS) + ": " + first + " -> " + later + ")";
    }

    @Override
    public String compareState() {
        String src = ramDigest(source, "source");
        String dst = ramDigest(destination, "destination");
        if (!src.equals(dst)) {
            throw new CheckFailedException("guest RAM differs after migration: source sha256 " + src + ", destination " + dst);
        }
        return "RAM above 1 MiB equal (pmemsave sha256 " + src.substring(0, 12) + "…)";
    }

    @Override
    public String checkDestinationRuns(Duration deadline) {
        long end = System.nanoTime() + deadline.toNanos();
        String status = destination.execute("query-status").path("status").asText();
        if (!status.equals("running")) {
            throw new CheckFailedException("destination is " + status + " after cont (expected: running)");
        }
        if (scenario.workload() == Workload.IDLE) {
            return "destination running; " + checkIdle(destination, "destination");
        }
        int before = probe(destination);
        int after = awaitProbeChange(destination, "destination", before, end);
        return "destination running and writing (" + before + " -> " + after + ")";
    }

    @Override
    public void close() {
        try {
            source.close();
            destination.close();
        } finally {
            try {
                destinationGuest.close();
            } finally {
                sourceGuest.close();
            }
        }
    }

    private String checkIdle(QmpClient c, String role) {
        int b = probe(c);
        String regs = hmp(c, "info registers");
        if (b != 0 || !"1".equals(group(HLT, regs))) {
            throw new CheckFailedException(role + " idle guest: byte at 0x" + Long.toHexString(PROBE_ADDRESS) + " is " + b
                    + ", HLT=" + group(HLT, regs) + " (expected: 0 and HLT=1)");
        }
        return role + " guest halted, probe page zero";
    }

    private static void awaitInBootSector(QmpClient c, String role, long end) {
        while (true) {
            String regs = hmp(c, "info registers");
            String eip = group(EIP, regs);
            if (eip != null) {
                long ip = Long.parseLong(eip, 16);
                if (ip >= 0x7c00 && ip < 0x7c00 + GuestImage.SIZE) {
                    return;
                }
            }
            pause(end, role + " guest did not reach the boot sector (EIP=" + eip + ")");
        }
    }

    private static int awaitProbeAtLeast(QmpClient c, String role, int value, long end) {
        while (true) {
            int b = probe(c);
            if (b >= value) {
                return b;
            }
            pause(end, role + " guest: byte at 0x" + Long.toHexString(PROBE_ADDRESS) + " is " + b + " (expected: >= " + value + ")");
        }
    }

    private static int awaitProbeChange(QmpClient c, String role, int from, long end) {
        while (true) {
            int b = probe(c);
            if (b != from) {
                return b;
            }
            pause(end, role + " guest does not write: byte at 0x" + Long.toHexString(PROBE_ADDRESS) + " stays " + from);
        }
    }

    private static void pause(long end, String failure) {
        if (System.nanoTime() > end) {
            throw new CheckFailedException(failure);
        }
        LockSupport.parkNanos(POLL_NANOS);
    }

    /** The byte at {@link #PROBE_ADDRESS}; HMP answers "0000000000200000: 0x05". */
    static int probe(QmpClient c) {
        String out = hmp(c, "xp /1xb 0x" + Long.toHexString(PROBE_ADDRESS)).strip();
        int x = out.lastIndexOf("0x");
        if (x < 0) {
            throw new CheckFailedException("unexpected xp output: " + out);
        }
        return Integer.parseInt(out.substring(x + 2).strip(), 16);
    }

    private static String hmp(QmpClient c, String commandLine) {
        ObjectNode args = JSON.objectNode().put("command-line", commandLine);
        return c.execute("human-monitor-command", args).asText();
    }

    private static String group(Pattern p, String text) {
        Matcher m = p.matcher(text);
        return m.find() ? m.group(1) : null;
    }

    /**
     * SHA-256 of guest RAM from 1 MiB up to the RAM size (all the pattern guest writes), saved by
     * QEMU to a file and hashed as it streams. Below 1 MiB lie the firmware's RAM and the BIOS
     * shadow at 0xE0000, which the guest never writes; read through {@code pmemsave} a few bytes of
     * the shadow differ between a source and its destination even for a halted guest (observed with
     * QEMU 7.2 under KVM), so that range says nothing about the migration and is left out.
     */
    private String ramDigest(QmpClient c, String role) {
        Path file = dir.resolve("pmemsave-" + role + ".bin");
        long size = scenario.memory() - GuestImage.PATTERN_START;
        try {
            ObjectNode args = JSON.objectNode().put("val", GuestImage.PATTERN_START).put("size", size)
                    .put("filename", file.toString());
            c.execute("pmemsave", args, PMEMSAVE_TIMEOUT);
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            long n = 0;
            try (InputStream in = Files.newInputStream(file)) {
                for (int r; (r = in.read(buf)) > 0;) {
                    sha.update(buf, 0, r);
                    n += r;
                }
            }
            if (n != size) {
                throw new CheckFailedException(role + " pmemsave wrote " + n + " bytes (expected: " + size + ")");
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (IOException e) {
            throw new CheckFailedException("reading " + role + " RAM from " + file + ": " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is mandatory in every JDK", e);
        } finally {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                // A leftover file in the run's temporary directory only costs disk space; the result stands.
            }
        }
    }

    /** For failure reports: what both QEMUs printed. */
    String logs() {
        return "source log: " + sourceGuest.log() + " | destination log: " + destinationGuest.log();
    }
}
