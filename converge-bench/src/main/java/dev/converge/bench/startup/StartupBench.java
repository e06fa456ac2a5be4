package dev.converge.bench.startup;

import dev.converge.bench.Sizes;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.client.QmpClient;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code ./bin/bench startup}: what an operator pays for one daemon, converged as bin/converged
 * starts it (the script, its JVM options and AOT cache) against qemu-storage-daemon, in the same
 * run: spawn → QMP greeting, spawn → the reply to the first command ({@code qmp_capabilities}:
 * converged greets while its modules are still being built, and answers once they are), resident
 * memory when idle, peak resident memory over a mirror of a file (the copy checked against its
 * source), and one {@code bin/converge jobs} call. Memory is VmRSS (and VmHWM for the peak) for
 * both daemons, shared file pages included (libjvm.so and the AOT cache for converged, the shared
 * libraries for QSD); the private part (smaps_rollup's Private_Clean + Private_Dirty) is printed
 * beside it. Medians of {@code --runs}; ratios converged ÷ QSD.
 */
public final class StartupBench {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration DEADLINE = Duration.ofSeconds(120);
    /** How long a daemon idles after negotiation before its resident set is read. */
    private static final long IDLE_MILLIS = 2000;

    record Figures(double greetingMs, double firstReplyMs, double cpuToReplyMs, double idleRssMiB,
            double idlePrivateMiB, double mirrorPeakRssMiB, double cliMs, double cliCpuMs) {
    }

    public static void main(String[] args) throws Exception {
        int runs = 5;
        long mirrorBytes = 1L << 30;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--mirror" -> mirrorBytes = Sizes.parse("--mirror", args[++i]);
                default -> {
                    System.err.println("usage: bin/bench startup [--runs N] [--mirror SIZE]");
                    System.exit(2);
                }
            }
        }
        Path home = Path.of(System.getProperty("converge.home", ".")).toAbsolutePath();
        Path converged = home.resolve("bin/converged");
        Path converge = home.resolve("bin/converge");
        boolean qsd = onPath("qemu-storage-daemon");
        Path dir = Files.createTempDirectory("converge-startup");
        try {
            Path src = dir.resolve("src.raw");
            writeSource(src, mirrorBytes);
            System.out.printf(Locale.ROOT, "startup and footprint: %d run(s), mirror of %d MiB, %d CPUs, load average "
                    + "%s at the start (other work on this machine inflates times; the ratio within the run is what "
                    + "counts)%n", runs, mirrorBytes >> 20, Runtime.getRuntime().availableProcessors(), loadAverage());
            List<Figures> ours = new ArrayList<>();
            List<Figures> theirs = new ArrayList<>();
            for (int r = 0; r < runs; r++) {
                ours.add(measure(List.of(converged.toString()), dir, src, converge, false));
                if (qsd) {
                    theirs.add(measure(List.of("qemu-storage-daemon"), dir, src, null, true));
                }
            }
            report(ours, theirs, qsd);
            System.out.printf(Locale.ROOT, "load average %s at the end; RSS counts shared file pages (libjvm.so, the "
                    + "AOT cache; QSD's shared libraries), private is the process's own memory%n", loadAverage());
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static Figures measure(List<String> exe, Path dir, Path src, Path cli, boolean qsdStyle) throws Exception {
        Path socket = dir.resolve("qmp.sock");
        Files.deleteIfExists(socket);
        List<String> cmd = new ArrayList<>(exe);
        if (qsdStyle) {
            cmd.addAll(List.of("--chardev", "socket,id=m0,path=" + socket + ",server=on,wait=off", "--monitor", "chardev=m0"));
        } else {
            cmd.addAll(List.of("--qmp", "unix:" + socket));
        }
        long t0 = System.nanoTime();
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("daemon.log").toFile());
        pb.environment().put("CONVERGE_NO_BUILD", "1"); // bin/bench built it: time the start, as from the release archive
        Process p = pb.start();
        try {
            double[] times = awaitFirstReply(p, socket, dir, t0);
            double cpu = cpuMillis(p.pid());
            try (QmpClient c = QmpClient.connect("unix:" + socket)) {
                c.execute("query-version");
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(IDLE_MILLIS));
                double idle = status(p.pid(), "VmRSS");
                double idlePrivate = privateMiB(p.pid());
                double cliMs = Double.NaN;
                double cliCpuMs = Double.NaN;
                if (cli != null) {
                    long c0 = System.nanoTime();
                    // bash's `times` prints the CPU time of its children (the script and its JVM) last
                    ProcessBuilder cpb = new ProcessBuilder("bash", "-c", "\"$@\"; s=$?; times; exit $s", "call",
                            cli.toString(), "--qmp", "unix:" + socket, "jobs")
                            .redirectErrorStream(true).redirectOutput(dir.resolve("cli.log").toFile());
                    cpb.environment().put("CONVERGE_NO_BUILD", "1");
                    Process call = cpb.start();
                    if (!call.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS) || call.exitValue() != 0) {
                        throw new IOException("converge jobs failed: " + Files.readString(dir.resolve("cli.log")));
                    }
                    cliMs = (System.nanoTime() - c0) / 1e6;
                    cliCpuMs = childrenCpuMillis(Files.readAllLines(dir.resolve("cli.log")));
                }
                double peak = mirrorPeak(c, p.pid(), src, dir.resolve("dst.raw"));
                c.execute("quit");
                return new Figures(times[0], times[1], cpu, idle, idlePrivate, peak, cliMs, cliCpuMs);
            }
        } finally {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
            }
        }
    }

    /** Mirrors src to a fresh dst; returns the daemon's peak resident set (VmHWM) afterwards, MiB. */
    private static double mirrorPeak(QmpClient c, long pid, Path src, Path dst) throws Exception {
        Files.deleteIfExists(dst);
        Files.createFile(dst);
        try (var ch = java.nio.channels.FileChannel.open(dst, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(0);
        }
        new java.io.RandomAccessFile(dst.toFile(), "rw").setLength(Files.size(src));
        c.execute("blockdev-add", obj("{\"driver\": \"file\", \"node-name\": \"src\", \"filename\": \"" + src + "\"}"));
        c.execute("blockdev-add", obj("{\"driver\": \"file\", \"node-name\": \"dst\", \"filename\": \"" + dst + "\"}"));
        c.execute("blockdev-mirror", obj("{\"job-id\": \"m0\", \"device\": \"src\", \"target\": \"dst\", \"sync\": \"full\"}"));
        c.awaitEvent(e -> e.path("event").asText().equals("BLOCK_JOB_READY"), DEADLINE);
        c.execute("job-complete", obj("{\"id\": \"m0\"}"));
        c.awaitEvent(e -> e.path("event").asText().equals("BLOCK_JOB_COMPLETED"), DEADLINE);
        double peak = status(pid, "VmHWM");
        if (Files.mismatch(src, dst) != -1) {
            throw new IOException("mirror target differs from its source");
        }
        return peak;
    }

    /**
     * Polls the socket as a supervisor would until the greeting arrives, then sends
     * {@code qmp_capabilities}: returns the milliseconds from {@code t0} to the greeting and to
     * that reply.
     */
    private static double[] awaitFirstReply(Process p, Path socket, Path dir, long t0) throws IOException {
        long end = System.nanoTime() + DEADLINE.toNanos();
        while (System.nanoTime() < end) {
            if (!p.isAlive()) {
                throw new IOException("daemon exited: " + Files.readString(dir.resolve("daemon.log")));
            }
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException notYet) {
                ch.close();
                LockSupport.parkNanos(200_000); // not listening yet: poll again soon, as a supervisor would
                continue;
            }
            try (ch) {
                ByteBuffer b = ByteBuffer.allocate(4096);
                awaitLine(ch, b);
                double greeting = (System.nanoTime() - t0) / 1e6;
                b.clear();
                ch.write(ByteBuffer.wrap("{\"execute\": \"qmp_capabilities\"}\n".getBytes(StandardCharsets.US_ASCII)));
                awaitLine(ch, b);
                String reply = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
                if (!reply.contains("\"return\"")) {
                    throw new IOException("qmp_capabilities failed: " + reply);
                }
                return new double[] {greeting, (System.nanoTime() - t0) / 1e6};
            }
        }
        throw new IOException("no QMP greeting within " + DEADLINE);
    }

    /** Reads into {@code b} until it holds a whole line. */
    private static void awaitLine(SocketChannel ch, ByteBuffer b) throws IOException {
        for (int scanned = 0;;) {
            if (ch.read(b) < 0) {
                throw new IOException("connection closed");
            }
            for (; scanned < b.position(); scanned++) {
                if (b.get(scanned) == '\n') {
                    return;
                }
            }
        }
    }

    private static void report(List<Figures> ours, List<Figures> theirs, boolean qsd) {
        String[] names = {"spawn → QMP greeting (ms)", "spawn → 1st reply (ms)", "  CPU used until then (ms)",
                "idle RSS (MiB)", "  of which private (MiB)", "peak RSS over the mirror (MiB)",
                "one `converge jobs` call (ms)", "  its CPU time (ms)"};
        String[] goals = {"≤ 150", "-", "-", "≤ 48", "-", "≤ 2× QSD", "≤ 200", "-"};
        System.out.printf(Locale.ROOT, "%-32s %12s %22s %10s %10s%n", "median of runs", "converged",
                qsd ? "qemu-storage-daemon" : "(no QSD)", "ratio", "goal");
        for (int k = 0; k < names.length; k++) {
            double a = median(ours, k);
            double b = qsd && k < names.length - 2 ? median(theirs, k) : Double.NaN;
            System.out.printf(Locale.ROOT, "%-32s %12.1f %22s %10s %10s%n", names[k], a,
                    Double.isNaN(b) ? "-" : String.format(Locale.ROOT, "%.1f", b),
                    Double.isNaN(b) || b == 0 ? "-" : String.format(Locale.ROOT, "%.1f×", a / b), goals[k]);
        }
    }

    private static double median(List<Figures> fs, int k) {
        double[] v = fs.stream().mapToDouble(f -> switch (k) {
            case 0 -> f.greetingMs();
            case 1 -> f.firstReplyMs();
            case 2 -> f.cpuToReplyMs();
            case 3 -> f.idleRssMiB();
            case 4 -> f.idlePrivateMiB();
            case 5 -> f.mirrorPeakRssMiB();
            case 6 -> f.cliMs();
            default -> f.cliCpuMs();
        }).sorted().toArray();
        return v.length == 0 ? Double.NaN : v[v.length / 2];
    }

    /** A field of /proc/PID/status in kB, as MiB. */
    private static double status(long pid, String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
            }
        }
        throw new IOException(field + " not in /proc/" + pid + "/status");
    }

    /**
     * User + system CPU time the process has used, ms (clock ticks of 10 ms): unlike wall time,
     * hardly inflated by other work on the machine.
     */
    private static double cpuMillis(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10.0; // utime, stime at USER_HZ 100
    }

    /** The children's user + system time from the last line of bash's {@code times} ("0m0.150s 0m0.030s"), ms. */
    static double childrenCpuMillis(List<String> output) {
        String[] f = output.getLast().trim().split(" ");
        return seconds(f[0]) * 1000 + seconds(f[1]) * 1000;
    }

    private static double seconds(String bashTime) {
        int m = bashTime.indexOf('m');
        return Integer.parseInt(bashTime.substring(0, m)) * 60 + Double.parseDouble(bashTime.substring(m + 1, bashTime.length() - 1));
    }

    /** The process's own resident memory (not shared with any other process), MiB. */
    private static double privateMiB(long pid) throws IOException {
        long kb = 0;
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps_rollup"))) {
            if (line.startsWith("Private_Clean:") || line.startsWith("Private_Dirty:")) {
                kb += Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return kb / 1024.0;
    }

    private static void writeSource(Path src, long size) throws IOException {
        byte[] block = new byte[1 << 20];
        new Random(42).nextBytes(block);
        try (var out = Files.newOutputStream(src)) {
            for (long done = 0; done < size; done += block.length) {
                block[0] = (byte) (done >> 20); // no two MiB alike
                out.write(block, 0, (int) Math.min(block.length, size - done));
            }
        }
    }

    private static ObjectNode obj(String json) throws IOException {
        return (ObjectNode) JSON.readTree(json);
    }

    private static boolean onPath(String exe) {
        return Arrays.stream(System.getenv().getOrDefault("PATH", "").split(":"))
                .anyMatch(p -> Files.isExecutable(Path.of(p, exe)));
    }

    /** The 1, 5 and 15 minute load averages, as uptime prints them. */
    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "unknown";
        }
    }
}
