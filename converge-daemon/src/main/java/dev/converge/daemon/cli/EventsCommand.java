package dev.converge.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.qmp.wire.QmpJson;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.client.QmpConnectionException;
import dev.converge.qmp.client.QmpTimeoutException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * `converge events`: prints the daemon's QMP events as they come, until interrupted, until
 * {@code --count} events were printed, or until the daemon closes the connection (status 0:
 * a daemon that quits ends the stream, it is not an error).
 */
@Command(name = "events", mixinStandardHelpOptions = true,
        description = {"Streams the daemon's QMP events: one line each, `TIME EVENT key=value ...`, or with --json the "
                + "event as the daemon sent it (one JSON object per line).",
                "Ends on Ctrl-C, after --count events, or when the daemon closes the connection."})
final class EventsCommand implements Callable<Integer> {
    /** How long one wait for an event lasts before checking whether the connection still stands. */
    private static final Duration POLL = Duration.ofSeconds(1);

    @ParentCommand
    ConvergeCli parent;
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--json", description = "Print each event as JSON, one object per line.")
    boolean json;

    @Option(names = "--event", paramLabel = "NAME", split = ",",
            description = "Only these events (repeatable or comma-separated), e.g. JOB_STATUS_CHANGE.")
    List<String> only = List.of();

    @Option(names = "--count", paramLabel = "N", defaultValue = "0", description = "Exit after N events (0: never).")
    long count;

    @Override
    public Integer call() {
        if (count < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--count must be 0 or more");
        }
        Set<String> names = new HashSet<>(only);
        PrintWriter out = spec.commandLine().getOut();
        long printed = 0;
        try (QmpClient client = parent.connect()) {
            while (count == 0 || printed < count) {
                JsonNode event;
                try {
                    // Take every event, matching or not: unmatched ones would otherwise pile up in the client's queue.
                    event = client.awaitEvent(e -> true, POLL);
                } catch (QmpTimeoutException quiet) {
                    continue;
                } catch (QmpConnectionException closed) {
                    spec.commandLine().getErr().println("converge: the daemon closed the connection");
                    return 0;
                }
                if (!names.isEmpty() && !names.contains(event.path("event").asText())) {
                    continue;
                }
                out.println(json ? QmpJson.toText(event) : EventFormat.line(event));
                out.flush();
                printed++;
            }
            return 0;
        }
    }
}
