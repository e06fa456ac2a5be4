package dev.converge.daemon.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.converge.daemon.Daemon;
import dev.converge.daemon.DaemonConfig;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import dev.converge.job.JobOptions;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.client.QmpClient;
import dev.converge.testing.TestTimeouts;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The operator's CLI against an in-process daemon: help, one-line errors, JSON, events, job wait. */
@Tag("integration")
class ConvergeCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    Path socket;
    Daemon daemon;

    @BeforeEach
    void start() {
        socket = dir.resolve("qmp.sock");
        daemon = Daemon.start(new DaemonConfig(List.of(SocketAddress.parse("unix:" + socket)), List.of()));
    }

    @AfterEach
    void stop() {
        daemon.close();
    }

    record Cli(int status, String out, String err) {
    }

    private Cli cli(Screen screen, String... args) {
        return cli(screen, new StringWriter(), args);
    }

    /** Runs the CLI against the test's daemon, its output into {@code out} (readable while it runs). */
    private Cli cli(Screen screen, StringWriter out, String... args) {
        List<String> all = new ArrayList<>(List.of("--qmp", "unix:" + socket));
        all.addAll(List.of(args));
        return bare(screen, out, all.toArray(String[]::new));
    }

    private static Cli bare(Screen screen, StringWriter out, String... args) {
        StringWriter err = new StringWriter();
        int status = ConvergeCli.run(args, new PrintWriter(out, true), new PrintWriter(err, true), screen);
        return new Cli(status, out.toString(), err.toString());
    }

    private Cli cli(String... args) {
        return cli(Screen.plain(), args);
    }

    @Test
    void everyCommandAnswersHelp() {
        List<List<String>> paths = new ArrayList<>();
        collect(new CommandLine(new ConvergeCli()), new ArrayList<>(), paths);
        // job's verbs are added when the CLI runs: check them by name too.
        for (String verb : JobCommand.VERBS) {
            paths.add(List.of("job", verb));
        }
        assertThat(paths).contains(List.of("jobs"), List.of("events"), List.of("job", "wait"), List.of("qmp"));
        for (List<String> path : paths) {
            List<String> args = new ArrayList<>(path);
            args.add("--help");
            Cli help = cli(args.toArray(String[]::new));
            assertThat(help.status()).as("%s: %s", args, help.err()).isZero();
            assertThat(help.out()).as("%s", args).startsWith("Usage: converge").contains("--help");
        }
    }

    private static void collect(CommandLine cl, List<String> path, List<List<String>> out) {
        out.add(List.copyOf(path));
        cl.getSubcommands().forEach((name, sub) -> {
            List<String> p = new ArrayList<>(path);
            p.add(name);
            collect(sub, p, out);
        });
    }

    @Test
    void everyErrorIsOneLine() {
        Cli noScheme = bare(Screen.plain(), new StringWriter(), "--qmp", "/path/without/scheme", "jobs");
        assertThat(noScheme.status()).isEqualTo(2);
        assertThat(noScheme.err()).isEqualTo("converge: --qmp /path/without/scheme: error parsing address "
                + "'/path/without/scheme' (see: converge --help)\n");
        Cli unknown = cli("jobs", "--bogus");
        assertThat(unknown.status()).isEqualTo(2);
        assertThat(unknown.err()).contains("--bogus").contains("converge jobs --help").hasLineCount(1);
        Cli missing = cli("job", "pause");
        assertThat(missing.status()).isEqualTo(2);
        assertThat(missing.err()).contains("ID").hasLineCount(1);
        Cli qmpError = cli("job", "cancel", "ghost");
        assertThat(qmpError.status()).isEqualTo(1);
        assertThat(qmpError.err()).isEqualTo("converge: GenericError: Job not found\n");
        Cli nobody = bare(Screen.plain(), new StringWriter(), "--qmp", "unix:" + dir.resolve("nobody.sock"), "jobs");
        assertThat(nobody.status()).isEqualTo(3);
        assertThat(nobody.err()).startsWith("converge: cannot talk to the daemon").hasLineCount(1);
        Cli noWaitJob = cli("job", "wait", "ghost");
        assertThat(noWaitJob.status()).isEqualTo(1);
        assertThat(noWaitJob.err()).isEqualTo("converge: no job 'ghost'\n");
    }

    @Test
    void theQuickPathRunsTheFrequentCallsAndLeavesTheRestToPicocli() throws Exception {
        Gate gate = startJob("job0", false);
        try {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            PrintWriter o = new PrintWriter(out, true);
            PrintWriter e = new PrintWriter(err, true);
            String addr = "unix:" + socket;
            assertThat(QuickPath.run(new String[] {"jobs"}, addr, o, e)).hasValue(0);
            assertThat(out.toString()).startsWith("ID ").contains("job0");
            assertThat(QuickPath.run(new String[] {"--qmp", addr, "jobs", "--json"}, null, o, e)).hasValue(0);
            assertThat(out.toString()).contains("\"id\" : \"job0\"");
            assertThat(QuickPath.run(new String[] {"--qmp=" + addr, "job", "pause", "job0"}, null, o, e)).hasValue(0);
            assertThat(out.toString()).contains("job-pause job0: ok");
            assertThat(QuickPath.run(new String[] {"job", "cancel", "ghost"}, addr, o, e)).hasValue(1);
            assertThat(err.toString()).isEqualTo("converge: GenericError: Job not found\n");
            for (String[] other : new String[][] {{"jobs", "--help"}, {"job", "wait", "job0"}, {"jobs", "--bogus"},
                    {"events"}, {"--qmp", "/no/scheme", "jobs"}}) {
                assertThat(QuickPath.run(other, addr, o, e)).as(String.join(" ", other)).isEmpty();
            }
            assertThat(QuickPath.run(new String[] {"jobs"}, null, o, e)).isEmpty();
        } finally {
            gate.finish.countDown();
        }
    }

    @Test
    void jobsAsJsonIsQueryJobsAnswer() throws Exception {
        Gate gate = startJob("job0", false);
        try {
            Cli jobs = cli("jobs", "--json");
            assertThat(jobs.status()).as(jobs.err()).isZero();
            JsonNode array = JSON.readTree(jobs.out());
            assertThat(array.isArray()).isTrue();
            assertThat(array.get(0).path("id").asText()).isEqualTo("job0");
            assertThat(array.get(0).path("type").asText()).isEqualTo("test");
            assertThat(array.get(0).path("total-progress").asLong()).isEqualTo(100);
        } finally {
            gate.finish.countDown();
        }
    }

    @Test
    void eventsStreamPrettyAndAsJson() throws Exception {
        Gate gate = startJob("job0", false);
        try (QmpClient qmp = QmpClient.connect("unix:" + socket)) {
            for (String format : new String[] {"pretty", "json"}) {
                List<String> args = new ArrayList<>(List.of("events", "--event", "JOB_STATUS_CHANGE", "--count", "2"));
                if (format.equals("json")) {
                    args.add("--json");
                }
                Cli[] result = new Cli[1];
                Thread reader = Thread.ofVirtual().start(() -> result[0] = cli(args.toArray(String[]::new)));
                // The stream only sees events after it subscribed: pause and resume until it has two.
                AtomicInteger toggles = new AtomicInteger();
                await().atMost(TestTimeouts.MEDIUM).pollInterval(java.time.Duration.ofMillis(50)).until(() -> {
                    String verb = toggles.getAndIncrement() % 2 == 0 ? "job-pause" : "job-resume";
                    qmp.execute(verb, JSON.createObjectNode().put("id", "job0"));
                    return !reader.isAlive();
                });
                reader.join();
                assertThat(result[0].status()).as(result[0].err()).isZero();
                List<String> lines = result[0].out().lines().toList();
                assertThat(lines).hasSize(2);
                for (String line : lines) {
                    if (format.equals("json")) {
                        JsonNode e = JSON.readTree(line);
                        assertThat(e.path("event").asText()).isEqualTo("JOB_STATUS_CHANGE");
                        assertThat(e.path("data").path("id").asText()).isEqualTo("job0");
                    } else {
                        assertThat(line).matches("\\d\\d:\\d\\d:\\d\\d\\.\\d{6} JOB_STATUS_CHANGE id=job0 status=\\w+");
                    }
                }
                if (toggles.get() % 2 == 1) { // leave it running for the next round
                    qmp.execute("job-resume", JSON.createObjectNode().put("id", "job0"));
                }
            }
        } finally {
            gate.finish.countDown();
        }
    }

    @Test
    void waitPrintsPlainLinesAndSaysWhatFollowsReady() throws Exception {
        Gate gate = startJob("m0", true);
        Cli[] result = new Cli[1];
        StringWriter out = new StringWriter();
        Thread waiter = Thread.ofVirtual().start(() -> result[0] = cli(Screen.plain(), out, "job", "wait", "m0",
                "--interval", "20"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> out.toString().contains("running"));
        gate.ready.countDown();
        await().atMost(TestTimeouts.MEDIUM).until(() -> out.toString().contains("(next: converge job complete m0)"));
        assertThat(cli("job", "complete", "m0").status()).isZero();
        waiter.join(TestTimeouts.MEDIUM.toMillis());
        assertThat(result[0].status()).as(result[0].err()).isZero();
        List<String> lines = result[0].out().lines().toList();
        assertThat(lines).noneMatch(l -> l.contains("\r") || l.contains("\u001b"));
        assertThat(lines.getFirst()).startsWith("m0 [").contains("running");
        assertThat(lines).anyMatch(l -> l.matches("m0 \\[#{30}] 100% .* ready \\(next: converge job complete m0\\)"));
        assertThat(lines.getLast()).isEqualTo("m0: concluded");
    }

    @Test
    void waitOnATerminalRedrawsOneLineWithinTheWidth() throws Exception {
        Gate gate = startJob("a-long-job-name", false);
        StringWriter out = new StringWriter();
        Cli[] result = new Cli[1];
        Thread waiter = Thread.ofVirtual().start(() -> result[0] = cli(Screen.fixed(true, 40), out, "job", "wait",
                "a-long-job-name", "--interval", "20"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> out.toString().contains("\u001b[K"));
        gate.finish.countDown();
        waiter.join(TestTimeouts.MEDIUM.toMillis());
        Cli waited = result[0];
        assertThat(waited.status()).as(waited.err()).isZero();
        String[] draws = waited.out().split("\r");
        assertThat(draws.length).isGreaterThan(1);
        for (int i = 1; i < draws.length; i++) {
            String draw = draws[i];
            String line = draw.substring(0, draw.indexOf("\u001b[K"));
            assertThat(line.length()).as(line).isLessThanOrEqualTo(39);
            assertThat(line).startsWith("a-long-job-name");
        }
        assertThat(waited.out()).endsWith("\u001b[K\na-long-job-name: concluded\n");
    }

    /** A test job: progress 0 of 100, then (if it becomes ready) waits for complete, or just for finish. */
    private static final class Gate {
        /** Counted down once the job has reported its progress (on the job's own thread). */
        final CountDownLatch started = new CountDownLatch(1);
        final CountDownLatch ready = new CountDownLatch(1);
        final CountDownLatch finish = new CountDownLatch(1);
    }

    private Gate startJob(String id, boolean completable) throws Exception {
        Gate gate = new Gate();
        JobDriver<Record, Record> driver = new JobDriver<>() {
            @Override
            public void run(JobContext ctx) throws Exception {
                ctx.progressRemaining(100);
                gate.started.countDown();
                if (completable) {
                    while (!gate.ready.await(10, TimeUnit.MILLISECONDS)) {
                        ctx.checkpoint();
                    }
                    ctx.progressDone(100);
                    ctx.progressRemaining(0);
                    ctx.setReady();
                    while (!ctx.completeRequested()) {
                        ctx.sleep(java.time.Duration.ofMillis(10));
                    }
                    return;
                }
                while (!gate.finish.await(10, TimeUnit.MILLISECONDS)) {
                    ctx.checkpoint();
                }
                ctx.progressDone(100);
                ctx.progressRemaining(0);
            }

            @Override
            public void complete() {
                // the run loop sees completeRequested
            }
        };
        daemon.mainLoop().call(() -> {
            daemon.jobs().start(daemon.jobs().create(id, dev.converge.job.JobKind.plain("test"), driver, JobOptions.defaults()));
            return null;
        });
        // The driver runs on the job's own thread: callers read its progress only once it is reported.
        assertThat(gate.started.await(dev.converge.testing.TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        return gate;
    }
}
