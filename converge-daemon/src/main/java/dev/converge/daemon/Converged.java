package dev.converge.daemon;

import dev.converge.migration.machine.GuestActions;
import dev.converge.migration.machine.kvm.MachineOptions;
import dev.converge.daemon.cmdline.QsdOptions;
import dev.converge.daemon.metrics.MetricsServer;
import dev.converge.daemon.web.WebConsole;
import dev.converge.daemon.service.Daemonize;
import dev.converge.daemon.service.PidFile;
import dev.converge.daemon.service.SystemdNotify;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.qmp.MachineConfig;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.sockets.SocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;
import picocli.CommandLine.Spec;

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

    @Option(names = "--object", paramLabel = "JSON|[qom-type=]TYPE,id=ID,...",
            description = "Create a user object at start, as object-add (and QEMU's -object) does, before anything "
                    + "else (tls-creds-x509, authz-simple, authz-list; repeatable).")
    List<String> objects = new ArrayList<>();

    @Option(names = "--blockdev", paramLabel = "JSON|[driver=]DRIVER,node-name=NAME,...",
            description = "Open a block node at start, as blockdev-add: JSON, or key=value as qemu-storage-daemon "
                    + "(repeatable).")
    List<String> blockdevs = new ArrayList<>();

    @Option(names = "--nbd-server", paramLabel = "addr.type=inet,addr.host=HOST,addr.port=PORT|addr.type=unix,addr.path=PATH[,tls-creds=ID][,tls-authz=ID][,max-connections=N]",
            description = "Start the NBD server, as qemu-storage-daemon's --nbd-server (nbd-server-start).")
    List<String> nbdServers = new ArrayList<>();

    @Option(names = "--export", paramLabel = "[type=]nbd,id=ID,node-name=NODE[,name=NAME][,writable=on|off][,bitmaps.0=B]",
            description = "Export a block node at start, as block-export-add (JSON or key=value).")
    List<String> exports = new ArrayList<>();

    @Option(names = "--chardev", paramLabel = "socket,id=ID,path=PATH|host=HOST,port=PORT,server=on[,wait=off]",
            description = "A socket for a --monitor (qemu-storage-daemon's way to say --qmp).")
    List<String> chardevs = new ArrayList<>();

    @Option(names = "--monitor", paramLabel = "[chardev=]ID[,mode=control]",
            description = "Serve QMP on the --chardev ID (as --qmp does).")
    List<String> monitors = new ArrayList<>();

    @Option(names = "--pidfile", paramLabel = "PATH",
            description = "Write the daemon's pid there, locked while it runs (a second daemon with the same file "
                    + "refuses to start); removed on exit.")
    Path pidfile;

    @Option(names = "--daemonize",
            description = "Return once the daemon serves (status 0) or failed (its error, status 1); it runs on "
                    + "detached, its standard streams on /dev/null.")
    boolean daemonize;

    @Option(names = "--metrics", paramLabel = "tcp:HOST:PORT",
            description = "Serve Prometheus metrics at http://HOST:PORT/metrics (off by default): per job status, "
                    + "progress, migration pass, dirty rate, expected downtime and throttle; process health.")
    String metrics;

    @Option(names = "--http", paramLabel = "tcp:HOST:PORT",
            description = "Serve the web console at http://HOST:PORT/ (off by default): the daemon's jobs live, and for "
                    + "a migration or mirror plots of dirty rate against bandwidth, remaining bytes and expected downtime "
                    + "against the limit. Read-only unless --http-control is given.")
    String http;

    @Option(names = "--http-control",
            description = "Let the web console's page pause, resume, cancel, complete and change jobs and start "
                    + "postcopy (each asks for confirmation). Needs --http.")
    boolean httpControl;

    @Spec
    CommandLine.Model.CommandSpec spec;

    /** The command line as given (QSD options run in its order); set by QuickOptions, or taken from picocli. */
    List<String> originalArgs;

    @Option(names = "--machine", paramLabel = "workload=NAME[,memory=SIZE][,vcpus=N][,dirty-rate=BYTES/s][,working-set=SIZE][,disk=NODE]"
            + " | accel=kvm[,memory=SIZE][,vcpus=N][,guest=pattern|FILE][,serial=file:PATH|stdio|none][,dirty-ring-size=N]",
            description = "Create the daemon's machine (workload: idle, pattern or stress; disk=NODE also writes that "
                    + "block node; memory defaults to 128M and vcpus to 1, as QEMU's -m and -smp). accel=kvm runs a "
                    + "boot-sector guest (default: converge's pattern guest) on KVM vCPUs instead; dirty-ring-size=N tracks "
                    + "dirty pages with KVM's dirty ring, N entries per vCPU (QEMU's -accel kvm,dirty-ring-size; default 0: "
                    + "the dirty bitmap). Without it the daemon has "
                    + "no machine.")
    String machine;

    @Option(names = "--incoming", paramLabel = "tcp:HOST:PORT|unix:PATH|defer",
            description = "Make the machine a migration destination: it waits for state there (defer: for "
                    + "migrate-incoming) instead of starting.")
    String incoming;

    @Option(names = "-S", description = "Do not start the machine by itself (as QEMU's -S): it waits for cont; a "
            + "destination stays paused after the migration until cont.")
    boolean startPaused;

    @Option(names = "--action", paramLabel = "reboot=reset|shutdown[,shutdown=poweroff|pause]",
            description = "What the machine does on guest events, as QEMU's -action (and QMP set-action): reboot=shutdown "
                    + "turns a guest's reset request (a triple fault on accel=kvm) into SHUTDOWN and run state 'shutdown' "
                    + "instead of a reset. converged stays up either way.")
    java.util.List<String> actions = new java.util.ArrayList<>();

    @Option(names = "--no-reboot", description = "As QEMU's -no-reboot: --action reboot=shutdown.")
    boolean noReboot;

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
        QsdOptions qsd = new QsdOptions();
        try {
            if (originalArgs == null) {
                originalArgs = spec.commandLine().getParseResult().originalArgs();
            }
            for (String[] option : qsdOptionsInOrder(originalArgs)) {
                qsd.add(option[0], option[1]);
            }
            addresses.addAll(qsd.monitors());
        } catch (IllegalArgumentException e) {
            System.err.println("converged: " + e.getMessage());
            return 2;
        }
        if (httpControl && http == null) {
            System.err.println("converged: --http-control needs --http tcp:HOST:PORT");
            return 2;
        }
        if (addresses.isEmpty()) {
            System.err.println("converged: give at least one --qmp unix:PATH or --qmp tcp:HOST:PORT "
                    + "(or --chardev socket,id=ID,path=PATH,server=on --monitor chardev=ID)");
            return 2;
        }
        if (daemonize && !Daemonize.isChild()) {
            return Daemonize.runParent(System.err);
        }
        MachineConfig machineConfig;
        try {
            machineConfig = machineConfig();
        } catch (IllegalArgumentException e) {
            System.err.println("converged: " + e.getMessage());
            return 2;
        }
        PidFile pid = null;
        if (pidfile != null) {
            try {
                pid = PidFile.write(pidfile, ProcessHandle.current().pid());
            } catch (java.io.IOException e) {
                System.err.println("converged: " + e.getMessage());
                return 1;
            }
        }
        SignalShutdown signals = SignalShutdown.install();
        Daemon daemon;
        try {
            daemon = Daemon.start(new DaemonConfig(addresses, List.of(), machineConfig, objectJson, tls, qsd.calls()));
        } catch (DaemonStartException e) {
            System.err.println("converged: " + e.getMessage());
            if (pid != null) {
                pid.close();
            }
            return 1;
        }
        signals.attach(daemon);
        MetricsServer metricsServer = null;
        if (metrics != null) {
            try {
                metricsServer = MetricsServer.start(metrics, daemon.registry(), daemon.mainLoop(), "0.1.0");
            } catch (java.io.IOException | IllegalArgumentException e) {
                System.err.println("converged: --metrics " + metrics + ": " + e.getMessage());
                daemon.shutdown();
                if (pid != null) {
                    pid.close();
                }
                return e instanceof IllegalArgumentException ? 2 : 1;
            }
        }
        WebConsole webConsole = null;
        if (http != null) {
            try {
                webConsole = WebConsole.start(http, httpControl, daemon.registry(), daemon.mainLoop(), "0.1.0");
            } catch (java.io.IOException | IllegalArgumentException e) {
                System.err.println("converged: --http " + http + ": " + e.getMessage());
                daemon.shutdown();
                if (metricsServer != null) {
                    metricsServer.close();
                }
                if (pid != null) {
                    pid.close();
                }
                return e instanceof IllegalArgumentException ? 2 : 1;
            }
        }
        SystemdNotify systemd = SystemdNotify.fromEnvironment();
        systemd.notify("READY=1\nSTATUS=serving QMP on " + daemon.addresses())
                .ifPresent(problem -> log().warn("systemd readiness not sent: {}", problem));
        if (Daemonize.isChild()) {
            Daemonize.childReady();
        }
        daemon.awaitShutdown();
        systemd.notify("STOPPING=1");
        if (metricsServer != null) {
            metricsServer.close();
        }
        if (webConsole != null) {
            webConsole.close();
        }
        if (pid != null) {
            pid.close();
        }
        return 0;
    }

    private static org.slf4j.Logger log() {
        return org.slf4j.LoggerFactory.getLogger(Converged.class);
    }

    /**
     * The qemu-storage-daemon options in the order they were given (picocli keeps each option's
     * values apart; QSD runs them in command-line order, and so does converged).
     */
    static List<String[]> qsdOptionsInOrder(List<String> args) {
        List<String[]> out = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--")) {
                break;
            }
            int eq = a.indexOf('=');
            String name = eq > 0 ? a.substring(0, eq) : a;
            if (!QsdOptions.NAMES.contains(name)) {
                continue;
            }
            if (eq > 0) {
                out.add(new String[] {name, a.substring(eq + 1)});
            } else if (i + 1 < args.size()) {
                out.add(new String[] {name, args.get(++i)});
            }
        }
        return out;
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
            if (!actions.isEmpty() || noReboot) {
                throw new IllegalArgumentException((noReboot ? "--no-reboot" : "--action") + " needs --machine");
            }
            return MachineConfig.none();
        }
        MachineOptions options;
        try {
            options = MachineOptions.parse(machine);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--machine " + machine + ": " + e.getMessage(), e);
        }
        GuestActions a = noReboot ? GuestActions.DEFAULT.withReboot(GuestActions.Reboot.SHUTDOWN) : GuestActions.DEFAULT;
        for (String action : actions) {
            try {
                a = a.parse(action);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--action " + action + ": " + e.getMessage(), e);
            }
        }
        MachineConfig c = MachineConfig.of("machine", options.spec()).withStartPaused(startPaused)
                .withAccelerator(options.accelerator()).withActions(a);
        return incoming == null ? c : c.withIncoming(incoming);
    }

    public static void main(String[] args) {
        Thread.ofPlatform().daemon().name("start-up warm-up").start(Converged::warmUp);
        Converged quick = new Converged();
        int code;
        if (QuickOptions.parse(List.of(args), quick)) {
            code = runQuick(quick);
        } else {
            code = new CommandLine(new Converged()).execute(args); // help, version, or an error picocli words
        }
        System.exit(code);
    }

    /**
     * Runs, on the second CPU while the main thread reads the options and builds the daemon, the
     * JDK's one-time set-up that the first UNIX listen and the first client would otherwise pay on
     * the way to the QMP greeting: the UNIX socket support's class initialisation (it seeds a
     * SecureRandom, loading the security providers) and the first virtual thread's.
     */
    private static void warmUp() {
        try (var ignored = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            Thread.ofVirtual().start(() -> { }).join();
        } catch (java.io.IOException | UnsupportedOperationException e) {
            // nothing warmed; the listen pays for it, as before
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Runs with options read by {@link QuickOptions}; an exception that escapes is one line and status 1. */
    private static int runQuick(Converged c) {
        try {
            return c.call();
        } catch (Exception e) {
            System.err.println("converged: " + e);
            return 1;
        }
    }

    /**
     * The object-add JSON of an {@code --object} in QEMU's option syntax: the type, then
     * KEY=VALUE pairs; on/off (and yes/no, true/false) become booleans.
     */
    static String objectJson(String option) {
        if (option.stripLeading().startsWith("{")) {
            return option; // JSON, as object-add takes it
        }
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
