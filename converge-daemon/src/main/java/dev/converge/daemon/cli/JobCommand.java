package dev.converge.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
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
@Command(name = "job", description = "Acts on one job: wait, pause, resume, cancel, complete, finalize, dismiss.",
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
            jobCommandLine.addSubcommand(verb, new Verb(verb));
        }
    }

    /** One verb: the matching job-VERB QMP command. */
    @Command(description = "Runs the QMP command job-<verb> for the job.")
    static final class Verb implements Callable<Integer> {
        private final String verb;
        @ParentCommand
        JobCommand job;
        @Spec
        CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "ID")
        String id;

        Verb(String verb) {
            this.verb = verb;
        }

        @Override
        public Integer call() {
            try (QmpClient client = job.parent.connect()) {
                ObjectNode args = ConvergeCli.JSON.createObjectNode().put("id", id);
                client.execute("job-" + verb, args);
                spec.commandLine().getOut().println("job-" + verb + " " + id + ": ok");
                return 0;
            }
        }
    }

    /**
     * `converge job wait ID`: redraws a progress bar until the job concludes. Driven by
     * JOB_STATUS_CHANGE events; between events the bar refreshes every {@code --interval}.
     * Exit status 0 when the job concluded without error, 1 when it failed or was cancelled.
     */
    @Command(name = "wait", description = "Shows a progress bar until the job concludes; exits 1 if it failed.")
    static final class Wait implements Callable<Integer> {
        @ParentCommand
        JobCommand job;
        @Spec
        CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "ID")
        String id;
        @Option(names = "--interval", paramLabel = "MS", defaultValue = "200", description = "Redraw interval.")
        long intervalMs;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            boolean tty = System.console() != null;
            try (QmpClient client = job.parent.connect()) {
                JobWatch watch = new JobWatch(id);
                // Subscribe before the first query: a change between the two is then not missed.
                client.addEventListener(watch::onEvent);
                JsonNode first = findJob(client.execute("query-jobs"), id);
                if (first == null) {
                    spec.commandLine().getErr().println("converge: no job '" + id + "'");
                    return 1;
                }
                watch.onQuery(first);
                String lastLine = "";
                while (!watch.isOver()) {
                    try {
                        client.awaitEvent(e -> watch.isOver(), Duration.ofMillis(intervalMs));
                    } catch (QmpTimeoutException timeout) {
                        // No terminal event within the interval: refresh the bar below.
                    }
                    if (!watch.isOver()) {
                        JsonNode j = findJob(client.execute("query-jobs"), id);
                        if (j == null) {
                            watch.onVanished();
                        } else {
                            watch.onQuery(j);
                        }
                    }
                    String line = ProgressBar.render(id, id.length(), 30, watch.current(), watch.total(), watch.status());
                    if (tty) {
                        out.print("\r" + line);
                    } else if (!line.equals(lastLine)) {
                        out.println(line);
                    }
                    out.flush();
                    lastLine = line;
                }
                if (tty) {
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
