package dev.converge.daemon.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.awaitility.Awaitility;

/**
 * Debian's Chromium, headless, driven over the DevTools protocol (a WebSocket of JSON messages)
 * with the JDK's own HTTP client: open a page, evaluate JavaScript in it, take a screenshot.
 * Every host name but 127.0.0.1 resolves to nothing, so a page that needs the network fails here.
 */
final class HeadlessChromium implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Process process;
    private final HttpClient http = HttpClient.newHttpClient();
    private final WebSocket socket;
    private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
    private final AtomicInteger ids = new AtomicInteger();

    /** The browser binary, when this machine has one. */
    static Optional<Path> binary() {
        return Stream.of("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
                .map(Path::of).filter(Files::isExecutable).findFirst();
    }

    /** Starts the browser on {@code url}, its profile in {@code profile}. */
    HeadlessChromium(Path binary, Path profile, String url) throws IOException {
        process = new ProcessBuilder(List.of(binary.toString(), "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--user-data-dir=" + profile, "--remote-debugging-port=0", "--window-size=1400,1100",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", url))
                .redirectErrorStream(true).redirectOutput(profile.resolve("chromium.log").toFile()).start();
        try {
            // Chromium writes the port it chose, then the browser's WebSocket path, once it listens.
            Path portFile = profile.resolve("DevToolsActivePort");
            Awaitility.await("chromium's DevToolsActivePort").atMost(TestTimeouts.MEDIUM)
                    .until(() -> Files.exists(portFile) && Files.readAllLines(portFile).size() >= 2);
            int port = Integer.parseInt(Files.readAllLines(portFile).get(0).trim());
            String pageSocket = Awaitility.await("the page's DevTools target").atMost(TestTimeouts.MEDIUM)
                    .until(() -> pageTarget(port, url), Optional::isPresent).orElseThrow();
            socket = http.newWebSocketBuilder().buildAsync(URI.create(pageSocket), new Listener())
                    .get(TestTimeouts.MEDIUM.toSeconds(), TimeUnit.SECONDS);
        } catch (Exception | Error e) {
            close();
            throw e instanceof IOException io ? io : new IOException("chromium did not start: " + e, e);
        }
    }

    private Optional<String> pageTarget(int port, String url) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/json/list"))
                .build(), HttpResponse.BodyHandlers.ofString());
        for (JsonNode target : JSON.readTree(r.body())) {
            if (target.path("type").asText().equals("page") && target.path("url").asText().startsWith(url)) {
                return Optional.of(target.path("webSocketDebuggerUrl").asText());
            }
        }
        return Optional.empty();
    }

    /** Runs a DevTools method and returns its result; a protocol error fails the call. */
    JsonNode call(String method, ObjectNode params) throws Exception {
        int id = ids.incrementAndGet();
        CompletableFuture<JsonNode> reply = new CompletableFuture<>();
        pending.put(id, reply);
        ObjectNode msg = JSON.createObjectNode().put("id", id).put("method", method);
        msg.set("params", params);
        socket.sendText(JSON.writeValueAsString(msg), true).get(TestTimeouts.MEDIUM.toSeconds(), TimeUnit.SECONDS);
        JsonNode answer = reply.get(TestTimeouts.MEDIUM.toSeconds(), TimeUnit.SECONDS);
        if (answer.has("error")) {
            throw new IllegalStateException(method + ": " + answer.get("error"));
        }
        return answer.path("result");
    }

    /** The value of a JavaScript expression in the page; a thrown exception fails the call. */
    JsonNode eval(String expression) throws Exception {
        JsonNode result = call("Runtime.evaluate", JSON.createObjectNode().put("expression", expression)
                .put("returnByValue", true));
        if (result.has("exceptionDetails")) {
            throw new IllegalStateException(expression + ": " + result.get("exceptionDetails"));
        }
        return result.path("result").path("value");
    }

    /** A PNG of the page as it is drawn now. */
    byte[] screenshot() throws Exception {
        JsonNode shot = call("Page.captureScreenshot", JSON.createObjectNode().put("format", "png"));
        return java.util.Base64.getDecoder().decode(shot.path("data").asText());
    }

    /** Collects a message's fragments and completes the call it answers; events are ignored. */
    private final class Listener implements WebSocket.Listener {
        private final StringBuilder text = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                try {
                    JsonNode msg = JSON.readTree(text.toString());
                    if (msg.has("id")) {
                        CompletableFuture<JsonNode> f = pending.remove(msg.get("id").asInt());
                        if (f != null) {
                            f.complete(msg);
                        }
                    }
                } catch (IOException e) {
                    pending.values().forEach(f -> f.completeExceptionally(e));
                } finally {
                    text.setLength(0);
                }
            }
            ws.request(1);
            return null;
        }
    }

    @Override
    public void close() {
        if (socket != null) {
            socket.abort();
        }
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor(TestTimeouts.MEDIUM.toSeconds(), TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        http.close();
    }
}
