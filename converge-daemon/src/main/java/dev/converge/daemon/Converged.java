package dev.converge.daemon;

import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.qmp.MachineConfig;
import dev.converge.qmp.QmpAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code converged}: the daemon's command line. Runs in the foreground until quit or SIGTERM. */
@Command(name = "converged", mixinStandardHelpOptions = true, version = "converged 0.1.0",
        description = "Serves QMP: mirrors disks and migrates memory as jobs of one state machine.",
        sortOptions = false)
public final class Converged implements Callable<Integer> {
    @Option(names = "--qmp", paramLabel = "unix:PATH|tcp:HOST:PORT",
            description = "Serve QMP there (repeatable). UNIX socket files get mode 0600 and are removed on exit.")
    List<String> qmp = new ArrayList<>();

    @Option(names = "--blockdev", paramLabel = "JSON",
            description = "Open a block node at start, with the same JSON as blockdev-add (repeatable).")
    List<String> blockdevs = new ArrayList<>();

    @Option(names = "--machine", paramLabel = "memory=SIZE,vcpus=N,workload=NAME[,dirty-rate=BYTES/s][,working-set=SIZE][,disk=NODE]",
            description = "Create the daemon's machine (workload: idle, pattern or stress; disk=NODE also writes that "
                    + "block node). Without it the daemon has no machine.")
    String machine;

    @Option(names = "--incoming", paramLabel = "tcp:HOST:PORT|unix:PATH|defer",
            description = "Make the machine a migration destination: it waits for state there (defer: for "
                    + "migrate-incoming) instead of starting.")
    String incoming;

    @Option(names = "-S", description = "Do not start the machine by itself (as QEMU's -S): it waits for cont; a "
            + "destination stays paused after the migration until cont.")
    boolean startPaused;

    @Option(names = "--qmp-reference",
            description = "Print the QMP reference (every command and event, as Markdown) and exit.")
    boolean qmpReference;

    @Option(names = "--log-level", paramLabel = "LEVEL", defaultValue = "info",
            description = "Log from this level on: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}). Lines go to "
                    + "standard error with a timestamp and the level; each job transition and migration phase is one line.")
    LogSetup.Level logLevel;

    @Override
    public Integer call() throws Exception {
        LogSetup.configure(logLevel); // before the first logger exists
        if (qmpReference) {
            System.out.print(Daemon.qmpReference());
            return 0;
        }
        if (qmp.isEmpty()) {
            System.err.println("converged: give at least one --qmp unix:PATH or --qmp tcp:HOST:PORT");
            return 2;
        }
        List<QmpAddress> addresses = new ArrayList<>();
        for (String a : qmp) {
            try {
                addresses.add(QmpAddress.parse(a));
            } catch (IllegalArgumentException e) {
                System.err.println("converged: --qmp " + a + ": " + e.getMessage());
                return 2;
            }
        }
        MachineConfig machineConfig;
        try {
            machineConfig = machineConfig();
        } catch (IllegalArgumentException e) {
            System.err.println("converged: " + e.getMessage());
            return 2;
        }
        Daemon daemon;
        try {
            daemon = Daemon.start(new DaemonConfig(addresses, blockdevs, machineConfig));
        } catch (DaemonStartException e) {
            System.err.println("converged: " + e.getMessage());
            return 1;
        }
        // SIGTERM and SIGINT end the daemon as quit does: sockets closed, files removed, status 0.
        // The shutdown hook covers any other orderly exit of the JVM.
        for (String signal : new String[] {"TERM", "INT"}) {
            sun.misc.Signal.handle(new sun.misc.Signal(signal), s -> Thread.ofPlatform().name("sig" + signal)
                    .start(daemon::shutdown));
        }
        Runtime.getRuntime().addShutdownHook(new Thread(daemon::shutdown, "shutdown-hook"));
        daemon.awaitShutdown();
        return 0;
    }

    /** The machine options as a config; IllegalArgumentException names the bad option. */
    MachineConfig machineConfig() {
        if (machine == null) {
            if (incoming != null) {
                throw new IllegalArgumentException("--incoming needs --machine");
            }
            if (startPaused) {
                throw new IllegalArgumentException("-S needs --machine");
            }
            return MachineConfig.none();
        }
        MachineSpec spec;
        try {
            spec = MachineSpec.parse(machine);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--machine " + machine + ": " + e.getMessage(), e);
        }
        MachineConfig c = MachineConfig.of("machine", spec).withStartPaused(startPaused);
        return incoming == null ? c : c.withIncoming(incoming);
    }

    public static void main(String[] args) {
        int code = new CommandLine(new Converged()).execute(args);
        System.exit(code);
    }
}
