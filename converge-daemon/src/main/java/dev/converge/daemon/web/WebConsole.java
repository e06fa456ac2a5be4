package dev.converge.daemon.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.converge.qmp.ErrorClass;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.server.QmpDispatcher;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.wire.QmpJson;
import dev.converge.qmp.wire.QmpMessages;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --http tcp:HOST:PORT}: the web console (see the package documentation). Each request
 * runs on its own virtual thread; QMP work runs on the daemon's main loop, exactly as a QMP
 * client's would. The server keeps no state: the page keeps the history it plots.
 */
public final class WebConsole implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WebConsole.class);

    /** The header a command must carry: a cross-origin page cannot add it without a preflight. */
    static final String CONTROL_HEADER = "X-Converge-Console";
    /** The largest command body read; a command is a few hundred bytes. */
    static final int MAX_BODY = 64 * 1024;
    /** How long a command may take before the page is told it is still running. */
    private static final long COMMAND_TIMEOUT_S = 30;
    /** The state the page polls: QMP queries, each answered as a QMP client would see it. */
    private static final String[] STATE_QUERIES = {"query-jobs", "query-migrate", "query-migrate-parameters",
        "query-status"};
    /** The static files, by request path: resource name and content type. */
    private static final Map<String, String[]> FILES = Map.of(
            "/", new String[] {"index.html", "text/html; charset=utf-8"},
            "/index.html", new String[] {"index.html", "text/html; charset=utf-8"},
            "/console.js", new String[] {"console.js", "text/javascript; charset=utf-8"},
            "/console.css", new String[] {"console.css", "text/css; charset=utf-8"});
    /** The page may load only its own files: no script, style or image from anywhere else. */
    private static final String CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final QmpRegistry registry;
    private final MainLoop mainLoop;
    private final QmpDispatcher dispatcher;
    private final boolean control;
    private final String version;

    private WebConsole(HttpServer server, QmpRegistry registry, MainLoop mainLoop, boolean control, String version) {
        this.server = server;
        this.registry = registry;
        this.mainLoop = mainLoop;
        this.dispatcher = new QmpDispatcher(registry);
        this.control = control;
        this.version = version;
    }

    /**
     * @param control whether the page's controls may run commands ({@code --http-control})
     * @throws IllegalArgumentException when the address is not tcp:HOST:PORT
     * @throws IOException              when it cannot be bound
     */
    public static WebConsole start(String address, boolean control, QmpRegistry registry, MainLoop mainLoop,
            String version) throws IOException {
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
        WebConsole console = new WebConsole(http, registry, mainLoop, control, version);
        http.setExecutor(console.executor);
        http.createContext("/", console::serveFile);
        http.createContext("/api/state", console::serveState);
        http.createContext("/api/command", console::serveCommand);
        http.start();
        log.info("web console on http://{}:{}/ ({})", tcp.host(), console.port(), control ? "with controls" : "read-only");
        return console;
    }

    /** The port bound (a requested port 0 shows the one chosen). */
    public int port() {
        return server.getAddress().getPort();
    }

    private void serveFile(HttpExchange ex) throws IOException {
        try (ex) {
            String[] file = FILES.get(ex.getRequestURI().getPath());
            if (file == null) {
                send(ex, 404, "text/plain; charset=utf-8", "not found\n".getBytes());
                return;
            }
            if (!isGetOrHead(ex)) {
                send(ex, 405, "text/plain; charset=utf-8", "only GET\n".getBytes());
                return;
            }
            byte[] body;
            try (InputStream in = WebConsole.class.getResourceAsStream(file[0])) {
                if (in == null) {
                    throw new IllegalStateException("the jar lacks the web console's " + file[0]);
                }
                body = in.readAllBytes();
            }
            ex.getResponseHeaders().set("Content-Security-Policy", CSP);
            send(ex, 200, file[1], body);
        }
    }

    private void serveState(HttpExchange ex) throws IOException {
        try (ex) {
            if (!isGetOrHead(ex)) {
                send(ex, 405, "text/plain; charset=utf-8", "only GET\n".getBytes());
                return;
            }
            ObjectNode state = QmpJson.object();
            state.put("version", version);
            state.put("control", control);
            state.put("time-ms", System.currentTimeMillis());
            ObjectNode answers = mainLoop.call(this::queries);
            state.setAll(answers);
            sendJson(ex, 200, state);
        }
    }

    /** Each state query's answer under its name; a query this daemon lacks (no machine) is absent. Main loop. */
    private ObjectNode queries() {
        ObjectNode out = QmpJson.object();
        for (String q : STATE_QUERIES) {
            if (registry.command(q).isEmpty()) {
                continue;
            }
            ObjectNode reply = dispatcher.dispatch(QmpJson.object().put("execute", q), NEGOTIATED);
            if (reply.has("return")) {
                out.set(q, reply.get("return"));
            }
        }
        return out;
    }

    private void serveCommand(HttpExchange ex) throws IOException {
        try (ex) {
            if (!ex.getRequestMethod().equals("POST")) {
                send(ex, 405, "text/plain; charset=utf-8", "only POST\n".getBytes());
                return;
            }
            String refusal = refusal(ex);
            if (refusal != null) {
                sendJson(ex, 403, QmpMessages.error(ErrorClass.GenericError, refusal, null));
                return;
            }
            JsonNode request;
            try (InputStream in = ex.getRequestBody()) {
                byte[] body = in.readNBytes(MAX_BODY + 1);
                if (body.length > MAX_BODY) {
                    sendJson(ex, 413, QmpMessages.error(ErrorClass.GenericError,
                            "a command may be at most " + MAX_BODY + " bytes", null));
                    return;
                }
                request = QmpJson.parse(body);
            } catch (QmpJson.ParseException e) {
                sendJson(ex, 400, QmpMessages.error(ErrorClass.GenericError, "the command is not JSON: " + e.getMessage(),
                        null));
                return;
            }
            String command = request.path("execute").asText("");
            if (!ConsoleCommands.allowed(command)) {
                sendJson(ex, 403, QmpMessages.error(ErrorClass.GenericError,
                        "the web console does not run '" + command + "'; it runs " + ConsoleCommands.ALLOWED.stream()
                                .sorted().toList(), null));
                return;
            }
            log.info("web console runs {} for {}", QmpJson.toText(request), ex.getRemoteAddress());
            sendJson(ex, 200, run(request));
        }
    }

    /** Why a command request is refused, or null when it may run. */
    private String refusal(HttpExchange ex) {
        if (!control) {
            return "the web console is read-only: start converged with --http-control to allow commands";
        }
        if (ex.getRequestHeaders().getFirst(CONTROL_HEADER) == null) {
            return "a command must carry the header " + CONTROL_HEADER;
        }
        String origin = ex.getRequestHeaders().getFirst("Origin");
        String host = ex.getRequestHeaders().getFirst("Host");
        if (origin != null && !origin.equals("http://" + host)) {
            return "a command from " + origin + " is refused: the console takes commands from its own page only";
        }
        return null;
    }

    private ObjectNode run(JsonNode request) {
        CompletionStage<ObjectNode> reply = mainLoop.call(() -> dispatcher.dispatchAsync(request, NEGOTIATED));
        try {
            return reply.toCompletableFuture().get(COMMAND_TIMEOUT_S, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            return QmpMessages.error(ErrorClass.GenericError,
                    "the command is still running after " + COMMAND_TIMEOUT_S + " s; watch the job table", null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return QmpMessages.error(ErrorClass.GenericError, "interrupted", null);
        } catch (ExecutionException e) {
            return QmpMessages.error(ErrorClass.GenericError, String.valueOf(e.getCause()), null);
        }
    }

    private static boolean isGetOrHead(HttpExchange ex) {
        return ex.getRequestMethod().equals("GET") || ex.getRequestMethod().equals("HEAD");
    }

    private static void sendJson(HttpExchange ex, int status, JsonNode body) throws IOException {
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        send(ex, status, "application/json", QmpJson.encode(body));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, head ? -1 : body.length);
        if (!head) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    /** The console speaks for the operator: it needs no capabilities negotiation. */
    private static final QmpDispatcher.Session NEGOTIATED = new QmpDispatcher.Session() {
        @Override
        public boolean negotiated() {
            return true;
        }

        @Override
        public void markNegotiated() {
        }
    };

    @Override
    public void close() {
        server.stop(0);
        executor.close();
    }
}
