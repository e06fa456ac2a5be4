package dev.converge.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.daemon.cli.ConvergeCli;
import dev.converge.daemon.cli.Screen;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The hand-written man pages (docs/man) name every command and option the command models have. */
class ManPageTest {
    private static final Path MAN = Path.of("..", "docs", "man");

    @Test
    void convergedsPageNamesEveryOption() throws Exception {
        assertNamesEverything(new CommandLine(new Converged()), Files.readString(MAN.resolve("converged.1")));
    }

    @Test
    void convergesPageNamesEveryCommandAndOption() throws Exception {
        assertNamesEverything(ConvergeCli.commandLine(Screen.plain()), Files.readString(MAN.resolve("converge.1")));
    }

    private static void assertNamesEverything(CommandLine root, String page) {
        List<String> missing = new ArrayList<>();
        walk(root, page, missing);
        assertThat(missing).as("not in the man page").isEmpty();
    }

    private static void walk(CommandLine cl, String page, List<String> missing) {
        for (CommandLine.Model.OptionSpec o : cl.getCommandSpec().options()) {
            String roff = o.longestName().replace("-", "\\-");
            if (!page.contains(roff)) {
                missing.add(cl.getCommandSpec().qualifiedName() + " " + o.longestName());
            }
        }
        cl.getSubcommands().forEach((name, sub) -> {
            if (!page.contains(name.replace("-", "\\-"))) {
                missing.add(sub.getCommandSpec().qualifiedName());
            }
            walk(sub, page, missing);
        });
    }
}
