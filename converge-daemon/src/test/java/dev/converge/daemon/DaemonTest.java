package dev.converge.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.daemon.cli.ConvergeCli;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import dev.converge.job.JobOptions;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.client.QmpCommandException;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.testing.TestTimeouts;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon in-process: wiring, quit, start-up errors, and the CLI against it. */
@Tag("integration")
class DaemonTest {
    @TempDir
    Path dir;
    Path socket;
    Daemon daemon;

    @BeforeEach
    void start() {
        socket = dir.resolve("qmp.sock");
        daemon = Daemon.start(new DaemonConfig(List.of(SocketAddress.parse("unix:" + socket)),
                List.of("{\"driver\": \"null-co\", \"node-name\": \"null0\", \"size\": 1048576}")));
    }

    @AfterEach
    void stop() {
        daemon.close();
    }

    record Cli(int status, String out, String err) {
    }

    Cli cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] all = new String[args.length + 2];
        all[0] = "--qmp";
        all[1] = "unix:" + socket;
        System.arraycopy(args, 0, all, 2, args.length);
        int status = ConvergeCli.run(all, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Cli(status, out.toString(), err.toString());
    }

    @Test
    void servesEveryModulesCommandsOnAPrivateSocket() throws Exception {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket))).isEqualTo("rw-------");
        try (QmpClient c = QmpClient.connect("unix:" + socket)) {
            List<String> names = c.execute("query-commands").findValuesAsText("name");
            assertThat(names).contains("qmp_capabilities", "query-version", "query-qmp-schema", "quit",
                    "query-jobs", "job-pause", "job-resume", "job-cancel", "job-complete", "job-finalize",
                    "job-dismiss", "job-change", "blockdev-add", "query-named-block-nodes");
            assertThat(c.execute("query-named-block-nodes").findValuesAsText("node-name")).containsExactly("null0");
        }
    }

    @Test
    void quitRepliesThenStopsAndRemovesTheSocketFile() throws Exception {
        try (QmpClient c = QmpClient.connect("unix:" + socket)) {
            assertThat(c.execute("quit").isEmpty()).isTrue();
        }
        assertThat(daemon.awaitShutdown(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        assertThat(socket).doesNotExist();
    }

    @Test
    void aBadBlockdevStopsTheStartWithQemusMessageAndLeavesNoSocket() {
        Path other = dir.resolve("other.sock");
        assertThatThrownBy(() -> Daemon.start(new DaemonConfig(List.of(SocketAddress.parse("unix:" + other)),
                List.of("{\"driver\": \"file\", \"node-name\": \"f\", \"filename\": \"" + dir.resolve("missing") + "\"}"))))
                .isInstanceOf(DaemonStartException.class)
                .hasMessageContaining("Could not open")
                .hasMessageContaining("No such file or directory");
        assertThat(other).doesNotExist();
    }

    /**
     * The daemon greets before its modules are built; a client that connects as early as it can
     * still finds every module's commands and the start-up block nodes in its first replies.
     */
    @Test
    void aClientConnectingDuringTheStartFindsEverythingAtOnce() throws Exception {
        Path early = dir.resolve("early.sock");
        java.util.concurrent.CompletableFuture<List<String>> seen = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            QmpClient[] client = new QmpClient[1];
            org.awaitility.Awaitility.await().atMost(TestTimeouts.LONG).pollDelay(java.time.Duration.ZERO)
                    .pollInterval(java.time.Duration.ofMillis(1)).ignoreExceptions()
                    .until(() -> (client[0] = QmpClient.connect("unix:" + early)) != null);
            try (QmpClient c = client[0]) {
                List<String> names = new java.util.ArrayList<>(c.execute("query-commands").findValuesAsText("name"));
                names.addAll(c.execute("query-named-block-nodes").findValuesAsText("node-name"));
                return names;
            }
        });
        try (Daemon second = Daemon.start(new DaemonConfig(List.of(SocketAddress.parse("unix:" + early)),
                List.of("{\"driver\": \"null-co\", \"node-name\": \"early0\", \"size\": 1048576}")))) {
            assertThat(seen.get(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS))
                    .contains("blockdev-mirror", "nbd-server-start", "migrate", "query-jobs", "early0");
        }
    }

    @Test
    void cliJobsPrintsATableAndVerbsReachTheJob() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        JobDriver<Record, Record> driver = ctx -> {
            ctx.progressRemaining(100);
            while (!release.await(10, TimeUnit.MILLISECONDS)) {
                ctx.checkpoint();
            }
            ctx.progressDone(100);
            ctx.progressRemaining(0);
        };
        daemon.mainLoop().call(() -> {
            daemon.jobs().start(daemon.jobs().create("job0", dev.converge.job.JobKind.plain("test"), driver, JobOptions.defaults().withAutoDismiss(false)));
            return null;
        });
        Cli table = cli("jobs");
        assertThat(table.status()).isZero();
        assertThat(table.out()).startsWith("ID").contains("job0").contains("test");

        Cli pause = cli("job", "pause", "job0");
        assertThat(pause.status()).as(pause.err()).isZero();
        try (QmpClient c = QmpClient.connect("unix:" + socket)) {
            org.awaitility.Awaitility.await().atMost(TestTimeouts.SHORT).until(() ->
                    c.execute("query-jobs").get(0).path("status").asText().equals("paused"));
        }
        assertThat(cli("job", "resume", "job0").status()).isZero();
        release.countDown();
        Cli waited = cli("job", "wait", "job0", "--interval", "20");
        assertThat(waited.status()).as(waited.out() + waited.err()).isZero();
        assertThat(waited.out()).contains("job0: concluded");
    }

    @Test
    void cliJobWaitFailsWhenTheJobFails() throws Exception {
        CountDownLatch fail = new CountDownLatch(1);
        JobDriver<Record, Record> driver = ctx -> {
            fail.await();
            throw new java.io.IOException("disk on fire");
        };
        daemon.mainLoop().call(() -> {
            daemon.jobs().start(daemon.jobs().create("doomed", dev.converge.job.JobKind.plain("test"), driver, JobOptions.defaults().withAutoDismiss(false)));
            return null;
        });
        Thread.ofVirtual().start(fail::countDown);
        Cli waited = cli("job", "wait", "doomed", "--interval", "20");
        assertThat(waited.status()).isEqualTo(1);
        assertThat(waited.out()).contains("doomed: failed: disk on fire");
    }

    @Test
    void cliQmpPrintsTheReplyAndFailsOnErrors() {
        Cli ok = cli("qmp", "{\"execute\": \"query-version\"}");
        assertThat(ok.status()).isZero();
        assertThat(ok.out()).contains("\"package\"").contains("converge");
        Cli bad = cli("qmp", "{\"execute\": \"job-dismiss\", \"arguments\": {\"id\": \"nope\"}}");
        assertThat(bad.status()).isEqualTo(1);
        assertThat(bad.out()).contains("GenericError").contains("Job not found");
        Cli notJson = cli("qmp", "{oops");
        assertThat(notJson.status()).isEqualTo(2);
    }

    @Test
    void cliReportsAnUnreachableDaemon() {
        StringWriter err = new StringWriter();
        int status = ConvergeCli.run(new String[] {"--qmp", "unix:" + dir.resolve("nobody.sock"), "jobs"},
                new PrintWriter(new StringWriter(), true), new PrintWriter(err, true));
        assertThat(status).isEqualTo(3);
        assertThat(err.toString()).contains("cannot talk to the daemon");
    }

    @Test
    void jobErrorsKeepQemuClasses() throws Exception {
        try (QmpClient c = QmpClient.connect("unix:" + socket)) {
            assertThatThrownBy(() -> c.execute("job-cancel", json().put("id", "ghost")))
                    .isInstanceOfSatisfying(QmpCommandException.class, e -> {
                        assertThat(e.errorClassName()).isEqualTo("GenericError");
                        assertThat(e.desc()).isEqualTo("Job not found");
                    });
            JsonNode schema = c.execute("query-qmp-schema");
            assertThat(schema.findValuesAsText("name")).contains("JOB_STATUS_CHANGE", "JOB_INFO_CHANGE");
        }
    }

    private static com.fasterxml.jackson.databind.node.ObjectNode json() {
        return new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
    }
}
