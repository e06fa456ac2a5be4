package dev.converge.bench.multifd;

import dev.converge.bench.Sizes;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.bench.migration.ProcessReaper;
import dev.converge.bench.migration.QemuGuest;
import dev.converge.bench.migration.QemuPair;
import dev.converge.bench.migration.Scenario;
import dev.converge.bench.migration.SideUnavailableException;
import dev.converge.bench.migration.Workload;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.PageCrcTable;
import dev.converge.migration.machine.PatternWorkload;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.multifd.ChannelAcceptor;
import dev.converge.migration.multifd.MultifdConfig;
import dev.converge.migration.multifd.ZeroPageDetection;
import dev.converge.migration.precopy.ConvergencePolicy;
import dev.converge.migration.precopy.IncomingMigration;
import dev.converge.migration.precopy.MigrationControl;
import dev.converge.migration.precopy.MigrationException;
import dev.converge.migration.precopy.MigrationProgress;
import dev.converge.migration.precopy.MigrationResult;
import dev.converge.migration.precopy.PrecopySender;
import dev.converge.migration.precopy.SendOptions;
import dev.converge.migration.wire.MultifdCompression;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.tls.SecureChannel;
import dev.converge.qmp.tls.TlsContexts;
import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.ByteChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Migration at wire speed: a stopped machine of {@code --memory} whose every page was written
 * (converge: the pattern workload's first pass over all RAM; QEMU: the pattern boot-sector guest's),
 * unlimited bandwidth, over loopback TCP. converge with one stream, with multifd on 2 and 4
 * channels and with zlib and zstd; QEMU (qemu-system-x86_64, a separate process per side) with one
 * stream and multifd 2 and 4 in the same run. Prints GB/s (guest RAM ÷ total time), total time,
 * bytes on the wire, and each converge row's time ÷ QEMU's with as many channels (one stream: QEMU's
 * one stream).
 * <p>
 * converge runs in this JVM (a source machine and a destination machine over loopback sockets,
 * through {@link PrecopySender} and {@link IncomingMigration}, the code the daemons run), so both
 * sides share its heap and CPUs; QEMU runs two processes. converge's destination RAM is checked
 * against the source's (the per-page CRC digest) after every run.
 * <p>
 * With {@code --tls on} every connection of both peers is TLS with x509 certificates made by openssl
 * for the run (the destination verifies the source's): converge's {@code SecureChannel} (the JDK's
 * SSLEngine) against QEMU's {@code tls-creds-x509} (GnuTLS), one stream and multifd; the
 * compression rows are left out.
 * <p>
 * Usage: {@code ./bin/bench multifd [--memory 2G] [--channels 2,4] [--sides converge,qemu]
 * [--verify on|off] [--zero-page-detection multifd|legacy|none] [--tls on|off]}.
 */
public final class MultifdBench {
    private static final Duration CONNECT_DEADLINE = Duration.ofSeconds(60);
    private static final Duration STEP_DEADLINE = Duration.ofMinutes(5);
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private MultifdBench() {
    }

    /** One row: what ran, its total time and bytes. */
    record Row(String side, String what, int channels, long ramBytes, long millis, long wireBytes, String note) {
        double gbPerSecond() {
            return millis <= 0 ? 0 : ramBytes / 1e9 / (millis / 1e3);
        }
    }

    public static void main(String[] args) throws Exception {
        long memory = 2L << 30;
        List<Integer> channels = List.of(2, 4);
        List<String> sides = List.of("converge", "qemu");
        boolean verify = false;
        ZeroPageDetection zero = ZeroPageDetection.MULTIFD;
        boolean tls = false;
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : "";
            switch (args[i]) {
                case "--memory" -> memory = Sizes.parse("--memory", v);
                case "--channels" -> channels = java.util.Arrays.stream(v.split(",")).map(Integer::parseInt).toList();
                case "--sides" -> sides = List.of(v.split(","));
                case "--verify" -> verify = v.equals("on");
                case "--zero-page-detection" -> zero = ZeroPageDetection.fromWireName(v);
                case "--tls" -> tls = v.equals("on");
                default -> {
                    System.err.println("MultifdBench: unknown option " + args[i]
                            + " (expected: --memory, --channels, --sides, --verify, --zero-page-detection, --tls)");
                    System.exit(2);
                }
            }
            i++;
        }
        Path pki = null;
        if (tls) {
            pki = Files.createTempDirectory("converge-multifd-bench-pki");
            BenchCertificates.generate(pki);
        }
        List<Row> rows = new ArrayList<>();
        String loadBefore = loadAverage();
        try {
            if (sides.contains("converge")) {
                rows.addAll(converge(memory, channels, verify, zero, pki));
            }
            if (sides.contains("qemu")) {
                rows.addAll(qemu(memory, channels, pki));
            }
        } finally {
            if (pki != null) {
                try (var files = Files.list(pki)) {
                    for (Path f : files.toList()) {
                        Files.delete(f);
                    }
                }
                Files.delete(pki);
            }
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "multifd over loopback TCP%s: %d MiB of written guest RAM, source stopped, "
                + "bandwidth unlimited; converge x-converge-verify %s, zero-page-detection %s; %d CPUs; "
                + "load average before: %s, after: %s%n", tls ? " with TLS (x509, both sides verified)" : "",
                memory >> 20, verify ? "on" : "off", zero.wireName(), Runtime.getRuntime().availableProcessors(), loadBefore,
                loadAverage());
        System.out.printf(Locale.ROOT, "%-9s %-22s %8s %10s %14s %12s  %s%n", "side", "stream", "GB/s", "time ms",
                "wire bytes", "vs QEMU", "note");
        for (Row r : rows) {
            String ratio = "";
            if (r.side().equals("converge")) {
                int ch = r.what().startsWith("one stream") ? 0 : r.channels();
                ratio = rows.stream().filter(q -> q.side().equals("qemu") && q.channels() == ch && q.millis() > 0).findFirst()
                        .map(q -> String.format(Locale.ROOT, "%.2fx time", (double) r.millis() / q.millis())).orElse("");
            }
            System.out.printf(Locale.ROOT, "%-9s %-22s %8.2f %10d %14d %12s  %s%n", r.side(), r.what(), r.gbPerSecond(),
                    r.millis(), r.wireBytes(), ratio, r.note());
        }
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).strip();
        } catch (IOException e) {
            return "?";
        }
    }

    // ---- converge, in this JVM ----

    private static List<Row> converge(long memory, List<Integer> channels, boolean verify, ZeroPageDetection zero, Path pki)
            throws Exception {
        Tls tls = pki == null ? null : new Tls(TlsContexts.fromDirectory(pki, TlsContexts.Endpoint.CLIENT),
                TlsContexts.fromDirectory(pki, TlsContexts.Endpoint.SERVER));
        MachineSpec spec = MachineSpec.parse("memory=" + (memory >> 20) + "M,vcpus=1,workload=pattern");
        List<Row> rows = new ArrayList<>();
        try (Machine src = Machine.create("src", spec, RunState.RUNNING)) {
            PatternWorkload work = (PatternWorkload) src.workload();
            long pages = memory >> 12;
            long end = System.nanoTime() + STEP_DEADLINE.toNanos();
            while (work.progress() < pages) {
                if (System.nanoTime() > end) {
                    throw new IllegalStateException("the pattern workload did not write every page in " + STEP_DEADLINE);
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
            }
            src.stop();
            String suffix = tls == null ? "" : " TLS";
            rows.add(convergeRun(src, spec, "one stream" + suffix, 0, SendOptions.single(verify).withZeroPageDetection(zero),
                    tls));
            for (int n : channels) {
                rows.add(convergeRun(src, spec, "multifd " + n + suffix, n, multifd(verify, zero,
                        MultifdConfig.DEFAULTS.withChannels(n)), tls));
            }
            if (tls == null) { // compression is measured in the clear; TLS rows are the cipher's cost
                int n = channels.getFirst();
                for (MultifdCompression c : List.of(MultifdCompression.ZLIB, MultifdCompression.ZSTD)) {
                    rows.add(convergeRun(src, spec, "multifd " + n + " " + c.wireName(), n, multifd(verify, zero,
                            MultifdConfig.DEFAULTS.withChannels(n).withCompression(c)), null));
                }
            }
        }
        return rows;
    }

    /** Options with multifd; the opener is set per run (it needs the listener's address). */
    private static SendOptions multifd(boolean verify, ZeroPageDetection zero, MultifdConfig c) {
        return new SendOptions(verify, zero, c, i -> {
            throw new IOException("no listener yet");
        });
    }

    /** The two sides' TLS contexts: the source is the client (it verifies "localhost"), the destination verifies the client. */
    private record Tls(SSLContext client, SSLContext server) {
        SecureChannel connect(SocketChannel ch) throws IOException {
            return SecureChannel.client(ch, client, "localhost");
        }

        SecureChannel accept(SocketChannel ch) throws IOException {
            return SecureChannel.server(ch, server, true);
        }
    }

    private static Row convergeRun(Machine src, MachineSpec spec, String what, int channels,
            SendOptions options, Tls tls) throws Exception {
        System.err.printf("converge %s ...%n", what);
        try (Machine dst = Machine.create("dst", spec, RunState.INMIGRATE);
                ServerSocketChannel server = ServerSocketChannel.open()
                        .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            dst.stop();
            SendOptions o = options.multifd() == null ? options : new SendOptions(options.verified(),
                    options.zeroPageDetection(), options.multifd(), i -> {
                        SocketChannel c = SocketChannel.open(server.getLocalAddress());
                        return tls == null ? c : tls.connect(c);
                    });
            CompletableFuture<IncomingMigration.Completed> in = new CompletableFuture<>();
            Thread.ofPlatform().daemon().name("bench-incoming").start(() -> {
                try (SocketChannel ch = server.accept()) {
                    in.complete(IncomingMigration.run(dst, tls == null ? ch : tls.accept(ch), new ChannelAcceptor() {
                        @Override
                        public boolean accepting() {
                            return options.multifd() != null; // the destination's capability, as the source's
                        }

                        @Override
                        public ByteChannel accept() throws IOException {
                            SocketChannel c = server.accept();
                            return tls == null ? c : tls.accept(c);
                        }

                        @Override
                        public void close() {
                        }
                    }, s -> { }));
                } catch (Throwable e) {
                    in.completeExceptionally(e);
                }
            });
            long t0 = System.nanoTime();
            long cpu0 = processCpuNanos();
            MigrationResult r;
            try (SocketChannel ch = SocketChannel.open(server.getLocalAddress())) {
                ch.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true);
                var out = tls == null ? ch : tls.connect(ch); // both a ByteChannel and a GatheringByteChannel
                r = new PrecopySender(src, out, () -> new ConvergencePolicy(Duration.ofMillis(300)), new Control(), o).run();
            }
            in.get(STEP_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
            long millis = (System.nanoTime() - t0) / 1_000_000;
            long cpuMillis = (processCpuNanos() - cpu0) / 1_000_000;
            // The source is stopped (postmigrate): its RAM now is what the destination must hold.
            String note = PageCrcTable.scan(dst.ram()).digest().equals(PageCrcTable.scan(src.ram()).digest()) ? "RAM equal" : "RAM DIFFERS";
            // Where the time goes: CPU time of this JVM (both sides) over the run, against the wall time.
            note += String.format(Locale.ROOT, ", %d zero pages, %d passes, CPU %d ms (%.1f cores busy)", r.zeroPages(),
                    r.passes(), cpuMillis, (double) cpuMillis / Math.max(1, millis));
            src.cont(); // postmigrate → running → stopped again for the next run (the RAM stays as it is)
            src.stop();
            return new Row("converge", what, channels, src.ram().size(), millis, r.bytesSent(), note);
        }
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /** Completes as soon as the estimate fits (the source is stopped: after the first pass). */
    private static final class Control implements MigrationControl {
        private volatile boolean converged;

        @Override
        public void checkpoint() {
        }

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public void rateLimit(long bytes) {
        }

        @Override
        public void progress(MigrationProgress p) {
            converged = p.converged();
        }

        @Override
        public void converged(MigrationProgress p) {
        }

        @Override
        public boolean completeRequested() throws MigrationException {
            return converged;
        }

        @Override
        public void idle(Duration max) {
            LockSupport.parkNanos(max.toNanos());
        }
    }

    // ---- QEMU, two processes ----

    private static List<Row> qemu(long memory, List<Integer> channels, Path pki) throws Exception {
        List<Row> rows = new ArrayList<>();
        List<Integer> runs = new ArrayList<>();
        runs.add(0);
        runs.addAll(channels);
        ProcessReaper reaper = ProcessReaper.installed();
        Path dir = Files.createTempDirectory("converge-multifd-bench");
        try {
            for (int n : runs) {
                System.err.printf("qemu %s ...%n", n == 0 ? "one stream" : "multifd " + n);
                try {
                    rows.add(qemuRun(dir, memory, n, reaper, pki));
                } catch (SideUnavailableException e) {
                    rows.add(new Row("qemu", "unavailable", n, memory, 0, 0, e.getMessage()));
                    break;
                }
            }
        } finally {
            reaper.killAll();
        }
        return rows;
    }

    private static Row qemuRun(Path dir, long memory, int channels, ProcessReaper reaper, Path pki) throws Exception {
        Scenario scenario = new Scenario(Workload.PATTERN, memory, 300, STEP_DEADLINE);
        try (QemuPair pair = QemuPair.start(dir, scenario, QemuGuest.Accel.detect(), reaper, CONNECT_DEADLINE)) {
            pair.awaitWorkloadRunning(STEP_DEADLINE); // the guest wrote every page
            QmpClient src = pair.source();
            QmpClient dst = pair.destination();
            src.execute("stop");
            for (QmpClient c : List.of(src, dst)) {
                ObjectNode caps = JSON.objectNode();
                caps.putArray("capabilities").addObject().put("capability", "multifd").put("state", channels > 0);
                c.execute("migrate-set-capabilities", caps);
                if (channels > 0) {
                    c.execute("migrate-set-parameters", JSON.objectNode().put("multifd-channels", channels));
                }
            }
            if (pki != null) {
                // QEMU's x509 credentials (GnuTLS): the destination is the server and verifies the client's certificate.
                for (QmpClient c : List.of(src, dst)) {
                    c.execute("object-add", JSON.objectNode().put("qom-type", "tls-creds-x509").put("id", "tls0")
                            .put("dir", pki.toString()).put("endpoint", c == dst ? "server" : "client")
                            .put("verify-peer", true));
                    c.execute("migrate-set-parameters", JSON.objectNode().put("tls-creds", "tls0"));
                }
                src.execute("migrate-set-parameters", JSON.objectNode().put("tls-hostname", "localhost"));
            }
            src.execute("migrate-set-parameters", JSON.objectNode().put("max-bandwidth", Scenario.UNLIMITED_BANDWIDTH));
            int port;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            String uri = "tcp:127.0.0.1:" + port;
            dst.execute("migrate-incoming", JSON.objectNode().put("uri", uri));
            src.execute("migrate", JSON.objectNode().put("uri", uri));
            long end = System.nanoTime() + STEP_DEADLINE.toNanos();
            while (true) {
                JsonNode q = src.execute("query-migrate");
                String status = q.path("status").asText();
                if (status.equals("completed")) {
                    return new Row("qemu", (channels == 0 ? "one stream" : "multifd " + channels) + (pki == null ? "" : " TLS"),
                            channels, memory,
                            q.path("total-time").asLong(), q.path("ram").path("transferred").asLong(),
                            q.path("ram").path("duplicate").asLong() + " zero pages");
                }
                if (status.equals("failed") || System.nanoTime() > end) {
                    throw new IllegalStateException("QEMU migration " + status + ": " + q);
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
            }
        }
    }
}
