package dev.converge.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** converged's picocli-free reading of its options agrees with picocli's, and leaves the rest to it. */
class QuickOptionsTest {
    @Test
    void readsEveryOptionOfTheModel() {
        Set<String> model = new TreeSet<>();
        for (CommandLine.Model.OptionSpec o : new CommandLine(new Converged()).getCommandSpec().options()) {
            if (!o.usageHelp() && !o.versionHelp()) {
                model.add(o.longestName());
            }
        }
        assertThat(new TreeSet<>(QuickOptions.names())).isEqualTo(model);
    }

    @Test
    void fillsTheSameFieldsAsPicocli() {
        assertSameAsPicocli(List.of("--qmp", "unix:/tmp/a.sock", "--qmp=tcp:127.0.0.1:0", "--object",
                "authz-simple,id=a,identity=x", "--blockdev", "null-co,node-name=n0", "--blockdev={\"driver\": \"null-co\"}",
                "--nbd-server", "addr.type=unix,addr.path=/tmp/n.sock", "--export", "nbd,id=e,node-name=n0",
                "--chardev", "socket,id=m0,path=/tmp/m.sock,server=on,wait=off", "--monitor", "chardev=m0",
                "--pidfile", "/tmp/c.pid", "--daemonize", "--metrics", "tcp:127.0.0.1:0", "--http=tcp:127.0.0.1:0",
                "--http-control", "--machine", "workload=idle", "--incoming", "defer", "-S", "--log-level", "debug"));
        assertSameAsPicocli(List.of("--qmp", "unix:/tmp/a.sock"));
        assertSameAsPicocli(List.of("--qmp-reference"));
    }

    @Test
    void leavesHelpErrorsAndOddFormsToPicocli() {
        for (List<String> args : List.of(List.of("--help"), List.of("-V"), List.of("--qmp"), List.of("--qmp", "--daemonize"),
                List.of("--bogus", "x"), List.of("stray"), List.of("--log-level", "loud"), List.of("--http", "a", "--http", "b"),
                List.of("--daemonize=true"), List.of("--qmp", "unix:/a", "--", "x"))) {
            assertThat(QuickOptions.parse(args, new Converged())).as(args.toString()).isFalse();
        }
    }

    private static void assertSameAsPicocli(List<String> args) {
        Converged quick = new Converged();
        assertThat(QuickOptions.parse(args, quick)).as(args.toString()).isTrue();
        Converged slow = new Converged();
        CommandLine.ParseResult parsed = new CommandLine(slow).parseArgs(args.toArray(String[]::new));
        assertThat(quick).usingRecursiveComparison().ignoringFields("spec", "originalArgs").isEqualTo(slow);
        assertThat(quick.originalArgs).isEqualTo(parsed.originalArgs());
    }
}
