package dev.converge.daemon;

import dev.converge.migration.machine.kvm.MachineOptions;
import dev.converge.migration.qmp.MachineConfig;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.sockets.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** {@code converged}: the daemon's command line. Runs in the foreground until quit or SIGTERM. */
@Command(name = "converged", mixinStandardHelpOptions = true, version = "converged 0.1.0",
        description = "Serves QMP: mirrors disks and migrates memory as jobs of one state machine.",
        sortOptions = false)
public final class Converged implements Callable<Integer> {
    @Option(names = "--qmp", paramLabel = "unix:PATH|tcp:HOST:PORT[,tls-creds=ID]",
            description = "Serve QMP there (repeatable). UNIX socket files get mode 0600 and are removed on exit. "
                    + "tls-creds: TLS with the tls-creds-x509 object ID (endpoint server, see --object); plain TCP on "
                    + "an address that is not loopback is served with a warning.")
    List<String> qmp = new ArrayList<>();

    @Option(names = "--object", paramLabel = "tls-creds-x509,id=ID,dir=DIR,endpoint=server[,verify-peer=on|off]",
            description = "Create a user object at start, as object-add (and QEMU's -object) does (repeatable).")
    List<String> objects = new ArrayList<>();

    @Option(names = "--blockdev", paramLabel = "JSON",
            description = "Open a block node at start, with the same JSON as blockdev-add (repeatable).")
    List<String> blockdevs = new ArrayList<>();

    @Option(names = "--machine", paramLabel = "workload=NAME[,memory=SIZE][,vcpus=N][,dirty-rate=BYTES/s][,working-set=SIZE][,disk=NODE]"
            + " | accel=kvm[,memory=SIZE][,vcpus=N][,guest=pattern|FILE][,serial=file:PATH|stdio|none]",
            description = "Create the daemon's machine (workload: idle, pattern or stress; disk=NODE also writes that "
                    + "block node; memory defaults to 128M and vcpus to 1, as QEMU's -m and -smp). accel=kvm runs a "
                    + "boot-sector guest (default: converge's pattern guest) on KVM vCPUs instead. Without it the daemon has "
                    + "no machine.")
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

    @Override
    public Integer call() throws Exception {
        if (qmpReference) {
            System.out.print(Daemon.qmpReference());
            return 0;
        }
        if (qmp.isEmpty()) {
            System.err.println("converged: give at least one --qmp unix:PATH or --qmp tcp:HOST:PORT");
            return 2;
        }
        List<SocketAddress> addresses = new ArrayList<>();
        java.util.Map<SocketAddress, String> tls = new java.util.HashMap<>();
        for (String a : qmp) {
            try {
                // tls-creds=ID is the listener's option (QEMU's chardev), not the address's: taken out first.
                String creds = null;
                StringBuilder rest = new StringBuilder();
                for (String part : a.split(",")) {
                    if (part.startsWith("tls-creds=")) {
                        creds = part.substring("tls-creds=".length());
                    } else {
                        rest.append(rest.isEmpty() ? "" : ",").append(part);
                    }
                }
                SocketAddress address = SocketAddress.parse(rest.toString());
                addresses.add(address);
                if (creds != null) {
                    tls.put(address, creds);
                }
            } catch (QmpException e) {
                System.err.println("converged: --qmp " + a + ": " + e.getMessage());
                return 2;
            }
        }
        List<String> objectJson = new ArrayList<>();
        for (String o : objects) {
            try {
                objectJson.add(objectJson(o));
            } catch (IllegalArgumentException e) {
                System.err.println("converged: --object " + o + ": " + e.getMessage());
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
            daemon = Daemon.start(new DaemonConfig(addresses, blockdevs, machineConfig, objectJson, tls));
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
        MachineOptions options;
        try {
            options = MachineOptions.parse(machine);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--machine " + machine + ": " + e.getMessage(), e);
        }
        MachineConfig c = MachineConfig.of("machine", options.spec()).withStartPaused(startPaused)
                .withAccelerator(options.accelerator());
        return incoming == null ? c : c.withIncoming(incoming);
    }

    public static void main(String[] args) {
        int code = new CommandLine(new Converged()).execute(args);
        System.exit(code);
    }

    /**
     * The object-add JSON of an {@code --object} in QEMU's option syntax: the type, then
     * KEY=VALUE pairs; on/off (and yes/no, true/false) become booleans.
     */
    static String objectJson(String option) {
        String[] parts = option.split(",");
        com.fasterxml.jackson.databind.node.ObjectNode o = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance
                .objectNode();
        for (int i = 0; i < parts.length; i++) {
            int eq = parts[i].indexOf('=');
            if (i == 0 && eq < 0) {
                o.put("qom-type", parts[i]);
                continue;
            }
            if (eq <= 0) {
                throw new IllegalArgumentException("'" + parts[i] + "' (expected: KEY=VALUE)");
            }
            String k = parts[i].substring(0, eq);
            String v = parts[i].substring(eq + 1);
            switch (v) {
                case "on", "yes", "true" -> o.put(k, true);
                case "off", "no", "false" -> o.put(k, false);
                default -> o.put(k, v);
            }
        }
        return o.toString();
    }
}
