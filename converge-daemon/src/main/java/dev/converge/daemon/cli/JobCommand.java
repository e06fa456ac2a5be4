package dev.converge.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.qmp.wire.QmpJson;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.client.QmpTimeoutException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** `converge job VERB ID`: the job verbs, and `wait` with a progress bar. */
@Command(name = "job", mixinStandardHelpOptions = true, description = "Acts on one job: wait, pause, resume, cancel, complete, finalize, dismiss.",
        subcommands = {JobCommand.Wait.class})
final class JobCommand implements Callable<Integer> {
    @ParentCommand
    ConvergeCli parent;
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return 2;
    }

    /** The job verbs offered as `converge job VERB ID`, each the QMP command job-VERB. */
    static final java.util.List<String> VERBS = java.util.List.of("pause", "resume", "cancel", "complete", "finalize", "dismiss");

    /** Adds one subcommand per verb to the `job` command line. */
    static void addVerbs(CommandLine jobCommandLine) {
        for (String verb : VERBS) {
            CommandLine verbLine = new CommandLine(new Verb(verb));
            verbLine.getCommandSpec().usageMessage().description("Runs the QMP command job-" + verb + " on the job.");
            jobCommandLine.addSubcommand(verb, verbLine);
        }
    }

    /** One verb: the matching job-VERB QMP command. */
    @Command(mixinStandardHelpOptions = true)
    static final class Verb implements Callable<Integer> {
        private final String verb;
        @ParentCommand
        JobCommand job;
        @Spec
        CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "ID", description = "The job id.")
        String id;

        Verb(String verb) {
            this.verb = verb;
        }

        @Override
        public Integer call() {
            try (QmpClient client = job.parent.connect()) {
                return execute(client, verb, id, spec.commandLine().getOut());
            }
        }

        static int execute(QmpClient client, String verb, String id, PrintWriter out) {
            ObjectNode args = QmpJson.object().put("id", id);
            client.execute("job-" + verb, args);
            out.println("job-" + verb + " " + id + ": ok");
            out.flush();
            return 0;
        }
    }

    /**
     * `converge job wait ID`: follows a job until it concludes. Driven by JOB_STATUS_CHANGE events;
     * between events it polls query-jobs every {@code --interval}. On a terminal one line is
     * redrawn in place (carriage return, the line fitted to the width, clear to its end); anywhere
     * else it prints plain lines: one per status change, and the progress at most once a second.
     * Exit status 0 when the job concluded without error, 1 when it failed or was cancelled.
     */
    @Command(name = "wait", mixinStandardHelpOptions = true,
            description = {"Follows a job until it concludes: progress, rate and ETA; for a migration also the pass, "
                    + "dirty rate, expected downtime against downtime-limit, and auto-converge's throttle. "
                    + "Says what to do next when the job waits (ready: job complete). Exits 1 if it failed.",
                    "On a terminal one line is redrawn; otherwise plain lines are printed."})
    static final class Wait implements Callable<Integer> {
        /** Plain output repeats an unchanged status at most this often. */
        private static final long PLAIN_EVERY_NANOS = 1_000_000_000L;

        @ParentCommand
        JobCommand job;
        @Spec
        CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "ID", description = "The job id.")
        String id;
        @Option(names = "--interval", paramLabel = "MS", defaultValue = "200", description = "Poll and redraw interval (default: ${DEFAULT-VALUE}).")
        long intervalMs;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Screen screen = job.parent.screen();
            try (QmpClient client = job.parent.connect()) {
                JobWatch watch = new JobWatch(id);
                // Subscribe before the first query: a change between the two is then not missed.
                client.addEventListener(watch::onEvent);
                JsonNode first = findJob(client.execute("query-jobs"), id);
                if (first == null) {
                    spec.commandLine().getErr().println("converge: no job '" + id + "'");
                    return 1;
                }
                watch.onQuery(first, System.nanoTime());
                String lastStatus = "";
                long lastPlain = 0;
                boolean drawn = false;
                while (true) {
                    long downtimeLimit = watch.isMigration() ? downtimeLimit(client) : -1;
                    JobView view = watch.view(downtimeLimit);
                    if (!screen.isTerminal() && !view.status().equals(lastStatus) && !lastStatus.isEmpty()
                            && !watch.isOver()) {
                        // A new status an event brought: its plain line stays on screen for up to a
                        // second, so show it with the progress of now, not of the last poll.
                        poll(client, watch);
                        view = watch.view(downtimeLimit);
                    }
                    long now = System.nanoTime();
                    if (screen.isTerminal()) {
                        // One column short of the width: writing the last column wraps on some terminals.
                        out.print("\r" + StatusLine.render(view, Math.max(1, screen.width() - 1)) + "\u001b[K");
                        drawn = true;
                    } else if (!view.status().equals(lastStatus) || now - lastPlain >= PLAIN_EVERY_NANOS) {
                        out.println(StatusLine.render(view, StatusLine.UNLIMITED));
                        lastPlain = now;
                    }
                    lastStatus = view.status();
                    out.flush();
                    if (watch.isOver()) {
                        break;
                    }
                    try {
                        client.awaitEvent(e -> watch.isOver(), Duration.ofMillis(intervalMs));
                    } catch (QmpTimeoutException timeout) {
                        // No terminal event within the interval: poll again.
                    }
                    if (!watch.isOver()) {
                        poll(client, watch);
                    }
                }
                if (drawn) {
                    out.println();
                }
                if (watch.failed()) {
                    out.println(id + ": " + (watch.error().isEmpty() ? "cancelled" : "failed: " + watch.error()));
                    return 1;
                }
                out.println(id + ": concluded");
                return 0;
            } finally {
                out.flush();
            }
        }

        /** Brings the watch up to date with query-jobs. */
        private void poll(QmpClient client, JobWatch watch) {
            JsonNode j = findJob(client.execute("query-jobs"), id);
            if (j == null) {
                watch.onVanished();
            } else {
                watch.onQuery(j, System.nanoTime());
            }
        }

        /** The source's downtime-limit (ms), shown next to the expected downtime. */
        private static long downtimeLimit(QmpClient client) {
            return client.execute("query-migrate-parameters").path("downtime-limit").asLong(-1);
        }

        private static JsonNode findJob(JsonNode jobs, String id) {
            for (JsonNode j : jobs) {
                if (id.equals(j.path("id").asText())) {
                    return j;
                }
            }
            return null;
        }
    }
}
