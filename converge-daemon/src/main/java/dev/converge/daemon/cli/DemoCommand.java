package dev.converge.daemon.cli;

import dev.converge.daemon.demo.Demo;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** `converge demo`: the live move of memory and disk between two daemons (see {@link Demo}). */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "Moves a running machine (memory and disk) between two daemons on this host "
        + "as one job transaction, verifies it, and cleans up. Needs no --qmp.")
final class DemoCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--memory", paramLabel = "MiB", defaultValue = "256", description = "Guest RAM in MiB.")
    long memoryMiB;

    @Option(names = "--disk", paramLabel = "MiB", defaultValue = "64", description = "Disk size in MiB.")
    long diskMiB;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "50", description = "Give up after this long.")
    long timeoutSeconds;

    @Option(names = "--keep", description = "Keep the temporary directory (logs, disks).")
    boolean keep;

    @Override
    public Integer call() throws Exception {
        Demo.Options o = new Demo.Options(memoryMiB << 20, diskMiB << 20, Duration.ofSeconds(timeoutSeconds), keep);
        return new Demo(spec.commandLine().getOut(), o, Terminal.stdoutIsTerminal()).run();
    }
}
