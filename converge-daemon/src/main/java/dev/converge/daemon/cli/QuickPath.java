package dev.converge.daemon.cli;

import dev.converge.qmp.QmpException;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.client.QmpClient;
import java.io.PrintWriter;
import java.util.List;
import java.util.OptionalInt;

/**
 * The CLI's frequent calls without picocli: {@code [--qmp ADDR] jobs [--json]} and
 * {@code [--qmp ADDR] job VERB ID}. Building picocli's model by reflection is a third of a
 * short call's time; these shapes are unambiguous, so they run the same code as the picocli
 * commands directly. Anything else (help, other commands, a typo, no address) is left to
 * picocli, which parses and reports it: empty is returned.
 */
final class QuickPath {
    private QuickPath() {
    }

    static OptionalInt run(String[] argv, String envAddress, PrintWriter out, PrintWriter err) {
        List<String> args = List.of(argv);
        String address = envAddress;
        int i = 0;
        if (args.size() >= 2 && args.getFirst().equals("--qmp")) {
            address = args.get(1);
            i = 2;
        } else if (!args.isEmpty() && args.getFirst().startsWith("--qmp=")) {
            address = args.getFirst().substring("--qmp=".length());
            i = 1;
        }
        List<String> rest = args.subList(i, args.size());
        boolean jobs = rest.equals(List.of("jobs")) || rest.equals(List.of("jobs", "--json"));
        boolean verb = rest.size() == 3 && rest.get(0).equals("job") && JobCommand.VERBS.contains(rest.get(1))
                && !rest.get(2).startsWith("-");
        if (!(jobs || verb) || address == null || address.isBlank()) {
            return OptionalInt.empty();
        }
        SocketAddress qmp;
        try {
            qmp = SocketAddress.parse(address);
        } catch (QmpException e) {
            return OptionalInt.empty(); // picocli reports it, with the same words as always
        }
        try (QmpClient client = QmpClient.connect(qmp)) {
            return OptionalInt.of(jobs ? ConvergeCli.Jobs.print(client, rest.size() == 2, out)
                    : JobCommand.Verb.execute(client, rest.get(1), rest.get(2), out));
        } catch (Exception e) {
            return OptionalInt.of(ConvergeCli.report(e, err));
        } finally {
            out.flush();
            err.flush();
        }
    }
}
