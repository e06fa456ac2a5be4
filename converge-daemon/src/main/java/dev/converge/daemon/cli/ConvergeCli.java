package dev.converge.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.client.QmpClientException;
import dev.converge.qmp.client.QmpCommandException;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.wire.QmpJson;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * {@code converge}: the operator's command line. Every subcommand talks QMP to a running
 * {@code converged}; nothing here bypasses QMP, so what the CLI can do a script can do too.
 * Exit status: 0 success, 1 the command or job failed, 2 usage error, 3 cannot reach the daemon.
 */
@Command(name = "converge", mixinStandardHelpOptions = true, version = "converge 0.1.0",
        description = "Talks to a running converged over QMP.",
        subcommands = {DemoCommand.class, ConvergeCli.Jobs.class, JobCommand.class, EventsCommand.class, ConvergeCli.Qmp.class})
public final class ConvergeCli implements Callable<Integer> {
    @Option(names = "--qmp", paramLabel = "unix:PATH|tcp:HOST:PORT", scope = CommandLine.ScopeType.INHERIT,
            defaultValue = "${env:CONVERGE_QMP}",
            description = "The daemon's QMP address (default: $CONVERGE_QMP).")
    String qmp;

    @Spec
    CommandLine.Model.CommandSpec spec;

    /** Where standard output goes (terminal or not, its width); set by {@link #run}. */
    private Screen screen = Screen.plain();

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return 2;
    }

    Screen screen() {
        return screen;
    }

    /** Connects to the daemon named by --qmp; a missing or unreachable address is a clear error. */
    QmpClient connect() {
        if (qmp == null || qmp.isBlank()) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "no daemon address: give --qmp unix:PATH or tcp:HOST:PORT (or set CONVERGE_QMP)");
        }
        SocketAddress address;
        try {
            address = SocketAddress.parse(qmp);
        } catch (QmpException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--qmp " + qmp + ": " + e.getMessage());
        }
        return QmpClient.connect(address);
    }

    /** `converge jobs`: a table of the daemon's jobs. */
    @Command(name = "jobs", mixinStandardHelpOptions = true,
            description = "Lists the jobs of the daemon (query-jobs) as a table, or as JSON with --json.")
    static final class Jobs implements Callable<Integer> {
        @ParentCommand
        ConvergeCli parent;
        @Spec
        CommandLine.Model.CommandSpec spec;
        @Option(names = "--json", description = "Print query-jobs' answer as JSON (an array of JobInfo) for scripts.")
        boolean json;

        @Override
        public Integer call() {
            try (QmpClient client = parent.connect()) {
                return print(client, json, spec.commandLine().getOut());
            }
        }

        static int print(QmpClient client, boolean json, PrintWriter out) {
            JsonNode jobs = client.execute("query-jobs");
            out.print(json ? QmpJson.toPrettyText(jobs) + "\n" : jobTable(jobs).render());
            out.flush();
            return 0;
        }
    }

    /** Renders query-jobs output: one row per job, progress as a percentage of the current estimate. */
    static Table jobTable(JsonNode jobs) {
        Table t = new Table("ID", "TYPE", "STATUS", "PROGRESS", "DONE", "TOTAL", "ERROR");
        for (JsonNode j : jobs) {
            long cur = j.path("current-progress").asLong();
            long tot = j.path("total-progress").asLong();
            String pct = tot > 0 ? Math.min(100, cur * 100 / tot) + "%" : "-";
            t.row(j.path("id").asText(), j.path("type").asText(), j.path("status").asText(), pct,
                    Units.bytes(cur), Units.bytes(tot), j.path("error").asText(""));
        }
        return t;
    }

    /** `converge qmp JSON`: one raw command, its reply printed as JSON. */
    @Command(name = "qmp", mixinStandardHelpOptions = true, description = "Sends one raw QMP command, e.g. '{\"execute\": \"query-version\"}', and prints the reply.")
    static final class Qmp implements Callable<Integer> {
        @ParentCommand
        ConvergeCli parent;
        @Spec
        CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "JSON", description = "{\"execute\": NAME, \"arguments\": {...}}")
        String json;
        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60", description = "How long to wait for the reply.")
        long timeoutSeconds;

        @Override
        public Integer call() throws Exception {
            JsonNode request;
            try {
                request = QmpJson.parse(json);
            } catch (QmpJson.ParseException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "not JSON: " + e.detail());
            }
            if (!request.isObject() || !request.path("execute").isTextual()) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "expected {\"execute\": NAME, \"arguments\": {...}}");
            }
            JsonNode argNode = request.get("arguments");
            if (argNode != null && !argNode.isObject()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "\"arguments\" must be an object");
            }
            PrintWriter out = spec.commandLine().getOut();
            try (QmpClient client = parent.connect()) {
                ObjectNode reply = QmpJson.object();
                try {
                    reply.set("return", client.execute(request.get("execute").asText(), (ObjectNode) argNode,
                            Duration.ofSeconds(timeoutSeconds)));
                    out.println(QmpJson.toPrettyText(reply));
                    return 0;
                } catch (QmpCommandException e) {
                    ObjectNode err = reply.putObject("error");
                    err.put("class", e.errorClassName());
                    err.put("desc", e.desc());
                    out.println(QmpJson.toPrettyText(reply));
                    return 1;
                }
            } finally {
                out.flush();
            }
        }
    }

    public static void main(String[] args) {
        int status;
        try {
            PrintWriter out = new PrintWriter(System.out, true);
            PrintWriter err = new PrintWriter(System.err, true);
            // The frequent, simple calls skip picocli's reflective model (a third of a CLI call's time).
            OptionalInt quick = QuickPath.run(args, System.getenv("CONVERGE_QMP"), out, err);
            status = quick.isPresent() ? quick.getAsInt() : run(args, out, err, Screen.stdout());
        } catch (RuntimeException | Error e) {
            // Nothing escapes as a stack trace; the message is enough to act on.
            System.err.println("converge: " + oneLine(e));
            status = 1;
        }
        System.exit(status);
    }

    /** Runs the CLI with the given streams, as if not on a terminal; returns the exit status (for tests). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        return run(args, out, err, Screen.plain());
    }

    /**
     * Runs the CLI; returns the exit status. Every error is one line on {@code err}: a usage
     * error names what is wrong and which --help to read (status 2), a QMP error shows QEMU's
     * class and description (1), an unreachable daemon says so (3), anything else its message (1).
     */
    public static int run(String[] args, PrintWriter out, PrintWriter err, Screen screen) {
        CommandLine cl = commandLine(screen);
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((ex, arguments) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println("converge: " + ex.getMessage() + " (see: " + c.getCommandSpec().qualifiedName() + " --help)");
            c.getErr().flush();
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> report(ex, commandLine.getErr()));
        return cl.execute(args);
    }

    /** The whole command tree (the job verbs included), as run() uses it and completion describes it. */
    public static CommandLine commandLine(Screen screen) {
        ConvergeCli root = new ConvergeCli();
        root.screen = screen;
        CommandLine cl = new CommandLine(root);
        JobCommand.addVerbs(cl.getSubcommands().get("job"));
        return cl;
    }

    /** A failed command as one line on {@code err}; returns the exit status. */
    static int report(Exception ex, PrintWriter err) {
        if (ex instanceof QmpCommandException qe) {
            err.println("converge: " + qe.errorClassName() + ": " + qe.desc());
            return 1;
        }
        if (ex instanceof QmpClientException ce) {
            err.println("converge: cannot talk to the daemon: " + ce.getMessage());
            return 3;
        }
        err.println("converge: " + oneLine(ex));
        return 1;
    }

    /** An exception's message on one line, or its type when it has none. */
    static String oneLine(Throwable t) {
        String m = t.getMessage();
        return (m == null || m.isBlank() ? t.getClass().getSimpleName() : m).replace('\n', ' ');
    }
}
