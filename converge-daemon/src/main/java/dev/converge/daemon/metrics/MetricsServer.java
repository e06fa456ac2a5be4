package dev.converge.daemon.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.converge.qmp.Args;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.QmpRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --metrics tcp:HOST:PORT}: serves GET /metrics in Prometheus' text format. Each scrape
 * asks the daemon's own QMP commands (query-jobs, query-migrate-parameters) on the main loop,
 * so the figures are the ones any QMP client sees; process figures come from /proc. Off unless
 * asked for. Each request runs on its own virtual thread; the server holds no state.
 */
public final class MetricsServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MetricsServer.class);

    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final QmpRegistry registry;
    private final MainLoop mainLoop;
    private final String version;

    private MetricsServer(HttpServer server, QmpRegistry registry, MainLoop mainLoop, String version) {
        this.server = server;
        this.registry = registry;
        this.mainLoop = mainLoop;
        this.version = version;
    }

    /**
     * @throws IllegalArgumentException when the address is not tcp:HOST:PORT
     * @throws IOException              when it cannot be bound
     */
    public static MetricsServer start(String address, QmpRegistry registry, MainLoop mainLoop, String version)
            throws IOException {
        SocketAddress parsed;
        try {
            parsed = SocketAddress.parse(address);
        } catch (QmpException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        if (!(parsed instanceof dev.converge.qmp.sockets.InetSocketAddress tcp)) {
            throw new IllegalArgumentException("expected tcp:HOST:PORT");
        }
        HttpServer http = HttpServer.create(new InetSocketAddress(tcp.host(), tcp.port()), 16);
        MetricsServer m = new MetricsServer(http, registry, mainLoop, version);
        http.setExecutor(m.executor);
        http.createContext("/metrics", m::handle);
        http.start();
        log.info("metrics on http://{}:{}/metrics", tcp.host(), m.port());
        return m;
    }

    /** The port bound (a requested port 0 shows the one chosen). */
    public int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD")) {
                ex.sendResponseHeaders(405, -1);
                return;
            }
            byte[] body;
            try {
                body = scrape().getBytes(StandardCharsets.UTF_8);
            } catch (RuntimeException e) {
                log.warn("metrics scrape failed: {}", e.toString());
                ex.sendResponseHeaders(500, -1);
                return;
            }
            ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            ex.sendResponseHeaders(200, ex.getRequestMethod().equals("HEAD") ? -1 : body.length);
            if (!ex.getRequestMethod().equals("HEAD")) {
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            }
        }
    }

    String scrape() {
        JsonNode[] answers = mainLoop.call(() -> new JsonNode[] {qmp("query-jobs"), qmp("query-migrate-parameters"),
            qmp("query-blockstats", JsonNodeFactory.instance.objectNode().put("query-nodes", true))});
        long limit = answers[1] == null ? -1 : answers[1].path("downtime-limit").asLong(-1);
        return PrometheusText.render(answers[0], limit, process(), version, answers[2]);
    }

    /** A QMP query without arguments, run in-process; null when the daemon has no such command. */
    private JsonNode qmp(String command) {
        return qmp(command, JsonNodeFactory.instance.objectNode());
    }

    private JsonNode qmp(String command, com.fasterxml.jackson.databind.node.ObjectNode args) {
        return registry.command(command).map(spec -> spec.handler().handle(new Args(args))).orElse(null);
    }

    private static PrometheusText.Process process() {
        double rss = 0;
        double vsz = 0;
        double threads = 0;
        double cpu = 0;
        double start = ProcessHandle.current().info().startInstant().map(i -> i.toEpochMilli() / 1000.0).orElse(0.0);
        double fds = 0;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = kib(line);
                } else if (line.startsWith("VmSize:")) {
                    vsz = kib(line);
                } else if (line.startsWith("Threads:")) {
                    threads = Double.parseDouble(line.substring(8).trim());
                }
            }
            // /proc/self/stat fields 14 and 15: utime and stime in clock ticks (USER_HZ, 100 on Linux).
            String stat = Files.readString(Path.of("/proc/self/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            cpu = (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
            try (var s = Files.list(Path.of("/proc/self/fd"))) {
                fds = s.count();
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: the figures stay 0
        }
        Runtime rt = Runtime.getRuntime();
        return new PrometheusText.Process(rss, vsz, cpu, start, fds, rt.totalMemory() - rt.freeMemory(), rt.totalMemory(),
                threads);
    }

    private static double kib(String line) {
        return Double.parseDouble(line.replaceAll("[^0-9]", "")) * 1024;
    }

    @Override
    public void close() {
        server.stop(0);
        executor.close();
    }
}
