package dev.converge.daemon.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.converge.daemon.Daemon;
import dev.converge.daemon.DaemonConfig;
import dev.converge.job.JobDriver;
import dev.converge.job.JobKind;
import dev.converge.job.JobOptions;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.testing.TestTimeouts;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --http: the page's files, the state it polls, and who may run which command. */
@Tag("integration")
class WebConsoleTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Daemon daemon;
    private final CountDownLatch release = new CountDownLatch(1);
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void startDaemonWithAJob() {
        daemon = Daemon.start(new DaemonConfig(List.of(SocketAddress.parse("unix:" + dir.resolve("q.sock"))), List.of()));
        JobDriver<Record, Record> driver = ctx -> {
            ctx.progressRemaining(1000);
            ctx.progressDone(250);
            ctx.progressRemaining(750);
            while (!release.await(10, TimeUnit.MILLISECONDS)) {
                ctx.checkpoint();
            }
        };
        daemon.mainLoop().call(() -> {
            daemon.jobs().start(daemon.jobs().create("job0", JobKind.plain("test"), driver, JobOptions.defaults()));
            return null;
        });
        Awaitility.await().atMost(TestTimeouts.MEDIUM).until(() -> job().get("current-progress").asLong() == 250);
    }

    @AfterEach
    void stop() {
        release.countDown();
        // The job ends on its own thread, which reports to the main loop: let it, then close.
        Awaitility.await().atMost(TestTimeouts.MEDIUM).until(() -> daemon.mainLoop().call(() -> daemon.registry()
                .command("query-jobs").orElseThrow().handler().handle(new dev.converge.qmp.Args(JSON.createObjectNode()))
                .isEmpty()));
        daemon.close();
        http.close();
    }

    @Test
    void thePageIsServedFromTheJarAndLoadsNothingFromElsewhere() throws Exception {
        try (WebConsole console = start(false)) {
            for (String path : new String[] {"/", "/console.js", "/console.css"}) {
                HttpResponse<String> r = get(console, path);
                assertThat(r.statusCode()).as(path).isEqualTo(200);
                assertThat(r.headers().firstValue("Content-Security-Policy")).hasValueSatisfying(
                        csp -> assertThat(csp).startsWith("default-src 'self'"));
                // No address outside the daemon: the page must work without network access.
                assertThat(r.body()).as(path).doesNotContain("http://", "https://", "//cdn");
            }
            assertThat(get(console, "/").headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
            assertThat(get(console, "/console.js").body()).contains("/api/state", "window.converge");
            assertThat(get(console, "/nothing-here").statusCode()).isEqualTo(404);
            assertThat(get(console, "/../etc/passwd").statusCode()).isEqualTo(404);
        }
    }

    @Test
    void theStateIsWhatQmpAnswers() throws Exception {
        try (WebConsole console = start(false)) {
            HttpResponse<String> r = get(console, "/api/state");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("Cache-Control")).hasValue("no-store");
            JsonNode state = JSON.readTree(r.body());
            assertThat(state.get("control").asBoolean()).isFalse();
            assertThat(state.get("version").asText()).isEqualTo("test");
            JsonNode job = state.get("query-jobs").get(0);
            assertThat(job.get("id").asText()).isEqualTo("job0");
            assertThat(job.get("status").asText()).isEqualTo("running");
            assertThat(job.get("current-progress").asLong()).isEqualTo(250);
            assertThat(job.get("total-progress").asLong()).isEqualTo(1000);
            assertThat(state.get("time-ms").asLong()).isPositive();
        }
    }

    @Test
    void readOnlyUnlessStartedWithControls() throws Exception {
        try (WebConsole console = start(false)) {
            HttpResponse<String> r = post(console, "{\"execute\":\"job-pause\",\"arguments\":{\"id\":\"job0\"}}", true, null);
            assertThat(r.statusCode()).isEqualTo(403);
            assertThat(desc(r)).contains("read-only", "--http-control");
            assertThat(jobStatus()).isEqualTo("running");
        }
    }

    @Test
    void aCommandNeedsTheHeaderAndTheConsolesOwnOrigin() throws Exception {
        try (WebConsole console = start(true)) {
            String pause = "{\"execute\":\"job-pause\",\"arguments\":{\"id\":\"job0\"}}";
            HttpResponse<String> noHeader = post(console, pause, false, null);
            assertThat(noHeader.statusCode()).isEqualTo(403);
            assertThat(desc(noHeader)).contains("X-Converge-Console");
            HttpResponse<String> foreign = post(console, pause, true, "http://evil.example");
            assertThat(foreign.statusCode()).isEqualTo(403);
            assertThat(desc(foreign)).contains("http://evil.example");
            assertThat(jobStatus()).isEqualTo("running");

            HttpResponse<String> own = post(console, pause, true, "http://127.0.0.1:" + console.port());
            assertThat(own.statusCode()).isEqualTo(200);
            assertThat(JSON.readTree(own.body()).has("return")).isTrue();
            Awaitility.await().atMost(TestTimeouts.MEDIUM).until(() -> jobStatus().equals("paused"));
            assertThat(post(console, "{\"execute\":\"job-resume\",\"arguments\":{\"id\":\"job0\"}}", true, null)
                    .statusCode()).isEqualTo(200);
            Awaitility.await().atMost(TestTimeouts.MEDIUM).until(() -> jobStatus().equals("running"));
        }
    }

    @Test
    void badCommandsGetClearErrorsAndChangeNothing() throws Exception {
        try (WebConsole console = start(true)) {
            HttpResponse<String> forbidden = post(console, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"x\"}}",
                    true, null);
            assertThat(forbidden.statusCode()).isEqualTo(403);
            assertThat(desc(forbidden)).contains("does not run 'blockdev-del'", "job-cancel");
            HttpResponse<String> notJson = post(console, "{nope", true, null);
            assertThat(notJson.statusCode()).isEqualTo(400);
            assertThat(desc(notJson)).contains("not JSON");
            HttpResponse<String> tooBig = post(console, "{\"execute\":\"job-pause\",\"pad\":\""
                    + "x".repeat(WebConsole.MAX_BODY) + "\"}", true, null);
            assertThat(tooBig.statusCode()).isEqualTo(413);
            // A command the console allows still goes through QMP's validation, with QMP's texts.
            HttpResponse<String> badArgs = post(console, "{\"execute\":\"job-pause\",\"arguments\":{\"id\":\"nosuch\"}}",
                    true, null);
            assertThat(badArgs.statusCode()).isEqualTo(200);
            assertThat(desc(badArgs)).isEqualTo("Job not found");
            HttpResponse<String> missing = post(console, "{\"execute\":\"job-pause\",\"arguments\":{}}", true, null);
            assertThat(desc(missing)).isEqualTo("Parameter 'id' is missing");
            HttpResponse<String> getCommand = http.send(HttpRequest.newBuilder(uri(console, "/api/command")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(getCommand.statusCode()).isEqualTo(405);
            assertThat(jobStatus()).isEqualTo("running");
        }
    }

    @Test
    void onlyTcpAddressesAreAccepted() {
        assertThatThrownBy(() -> WebConsole.start("unix:/tmp/x", false, null, null, "v"))
                .hasMessageContaining("expected tcp:HOST:PORT");
    }

    private WebConsole start(boolean control) throws Exception {
        return WebConsole.start("tcp:127.0.0.1:0", control, daemon.registry(), daemon.mainLoop(), "test");
    }

    private JsonNode job() {
        return daemon.mainLoop().call(() -> daemon.registry().command("query-jobs").orElseThrow().handler()
                .handle(new dev.converge.qmp.Args(JSON.createObjectNode())).get(0));
    }

    private String jobStatus() {
        return job().get("status").asText();
    }

    private static URI uri(WebConsole console, String path) {
        return URI.create("http://127.0.0.1:" + console.port() + path);
    }

    private HttpResponse<String> get(WebConsole console, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(uri(console, path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(WebConsole console, String body, boolean header, String origin) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(console, "/api/command"))
                .POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json");
        if (header) {
            b.header(WebConsole.CONTROL_HEADER, "1");
        }
        if (origin != null) {
            b.header("Origin", origin);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String desc(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body()).path("error").path("desc").asText();
    }
}
