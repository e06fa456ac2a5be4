package dev.converge.daemon;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * Reads converged's command line without picocli when every argument is one of its options in
 * the plain forms ({@code --name VALUE}, {@code --name=VALUE}, a flag alone). picocli builds its
 * model by reflection and its converters pull in java.time and java.sql: a third of the time to
 * the QMP greeting (docs/benchmarks.md, start-up), and its classes cannot go into the AOT cache
 * (class files of Java 5). Anything else (help, version, an unknown or repeated single option, a
 * missing value, a bad log level) is left to picocli, which parses the same fields and reports
 * the problem in its words: {@link #parse} returns false then.
 * <p>
 * The names here are the {@code @Option}s of {@link Converged}; ConvergedOptionsTest checks
 * that both parsers agree on every option.
 */
final class QuickOptions {
    /** Options that take one value each time they are given: name → where it goes. */
    private static final Map<String, BiConsumer<Converged, String>> VALUED = Map.ofEntries(
            Map.entry("--qmp", (c, v) -> c.qmp.add(v)),
            Map.entry("--object", (c, v) -> c.objects.add(v)),
            Map.entry("--blockdev", (c, v) -> c.blockdevs.add(v)),
            Map.entry("--nbd-server", (c, v) -> c.nbdServers.add(v)),
            Map.entry("--export", (c, v) -> c.exports.add(v)),
            Map.entry("--chardev", (c, v) -> c.chardevs.add(v)),
            Map.entry("--monitor", (c, v) -> c.monitors.add(v)),
            Map.entry("--pidfile", (c, v) -> c.pidfile = Path.of(v)),
            Map.entry("--metrics", (c, v) -> c.metrics = v),
            Map.entry("--http", (c, v) -> c.http = v),
            Map.entry("--machine", (c, v) -> c.machine = v),
            Map.entry("--incoming", (c, v) -> c.incoming = v),
            Map.entry("--action", (c, v) -> c.actions.add(v)),
            Map.entry("--log-level", (c, v) -> c.logLevel = LogSetup.Level.valueOf(v)));
    /** The valued options picocli accepts once only (a second one is its error to report). */
    private static final Set<String> SINGLE = Set.of("--pidfile", "--metrics", "--http", "--machine", "--incoming",
            "--log-level");
    private static final Map<String, BiConsumer<Converged, String>> FLAGS = Map.of(
            "--daemonize", (c, v) -> c.daemonize = true,
            "--http-control", (c, v) -> c.httpControl = true,
            "-S", (c, v) -> c.startPaused = true,
            "--no-reboot", (c, v) -> c.noReboot = true,
            "--qmp-reference", (c, v) -> c.qmpReference = true);

    private QuickOptions() {
    }

    /** Every option name read here (for the test that compares with picocli's model). */
    static Set<String> names() {
        Set<String> all = new HashSet<>(VALUED.keySet());
        all.addAll(FLAGS.keySet());
        return all;
    }

    /** Fills {@code target} from {@code args}; false (target half-filled, to be dropped) when picocli must parse. */
    static boolean parse(List<String> args, Converged target) {
        Set<String> seen = new HashSet<>();
        target.logLevel = LogSetup.Level.info; // picocli's defaultValue
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            int eq = a.indexOf('=');
            String name = eq > 0 ? a.substring(0, eq) : a;
            if (FLAGS.containsKey(name)) {
                if (eq > 0 || !seen.add(name)) {
                    return false;
                }
                FLAGS.get(name).accept(target, null);
                continue;
            }
            BiConsumer<Converged, String> option = VALUED.get(name);
            if (option == null || (!seen.add(name) && SINGLE.contains(name))) {
                return false;
            }
            String value;
            if (eq > 0) {
                value = a.substring(eq + 1);
            } else if (i + 1 < args.size() && !args.get(i + 1).startsWith("-")) {
                value = args.get(++i);
            } else {
                return false;
            }
            try {
                option.accept(target, value);
            } catch (IllegalArgumentException badValue) {
                return false;
            }
        }
        target.originalArgs = List.copyOf(args);
        return true;
    }
}
