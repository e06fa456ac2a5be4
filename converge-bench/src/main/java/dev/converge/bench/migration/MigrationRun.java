package dev.converge.bench.migration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.ErrorClass;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.client.QmpCommandException;
import dev.converge.qmp.client.QmpTimeoutException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The QMP sequence of one migration, the same for QEMU and converged:
 * <ol>
 * <li>wait until the source's workload is in its steady state ({@link GuestPair#awaitWorkloadRunning});
 * <li>destination: {@code migrate-set-capabilities} (events on), {@code stop} (while it waits
 *     for the migration this only clears autostart, so the destination stays paused at the end
 *     and its state can be compared with the source's), {@code migrate-incoming} on a free
 *     loopback port;
 * <li>source: {@code migrate-set-capabilities} (events on; the scenario's convergence aid too), {@code migrate-set-parameters}
 *     {downtime-limit, max-bandwidth: {@link Scenario#UNLIMITED_BANDWIDTH}}, {@code migrate};
 * <li>wait for the source's MIGRATION event with status completed, failed or cancelled; when none
 *     comes within the scenario's time, {@code migrate_cancel} and report it as not converged;
 * <li>once the source is in postmigrate, {@code query-migrate} on it gives the figures;
 * <li>the destination's MIGRATION completed event; destination paused;
 *     compare their state ({@link GuestPair#compareState});
 * <li>destination {@code cont}; it must run the workload ({@link GuestPair#checkDestinationRuns}).
 * </ol>
 * The figures come from the source's own clock ({@code total-time}, {@code downtime}), so the
 * checks around the migration do not change them.
 */
public final class MigrationRun {
    /** Bound on one step that is not the migration itself (an event after completion, a guest's boot). */
    private final Duration stepDeadline;
    /** How often query-migrate is read while the migration runs (for the dirty rate). */
    private static final Duration SAMPLE = Duration.ofMillis(100);
    /**
     * The last {@code ram.dirty-pages-rate} × 4096 the source reported while active, in bytes/s
     * (0 when none: QEMU shows it only while active, from the second pass); written by {@link #run}.
     */
    private long lastDirtyRate;
    /** {@link #lastDirtyRate} of the last QEMU run; set by {@link MigrationBench} (one thread). */
    long lastQemuDirtyRate;

    /** The source's dirty rate in bytes/s seen during the last {@link #run}, 0 when none was reported. */
    public long lastDirtyRate() {
        return lastDirtyRate;
    }

    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
    /** Whether each sample is printed ({@code -Dconverge.bench.trace=true}, bin/bench's {@code --trace}). */
    private static final boolean TRACE = Boolean.getBoolean("converge.bench.trace");
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
    private static final Set<String> FINAL = Set.of("completed", "failed", "cancelled");

    /** @param stepDeadline bound on each step around the migration (boot, events after completion, checks) */
    public MigrationRun(Duration stepDeadline) {
        this.stepDeadline = stepDeadline;
    }

    /**
     * Runs {@code scenario} on {@code pair}. Never throws for what a side does wrong: that becomes
     * {@link Outcome.Failed} or {@link Outcome.Unavailable} (a command the side lacks).
     */
    public Outcome run(GuestPair pair, Scenario scenario) {
        try {
            return runOrThrow(pair, scenario);
        } catch (QmpCommandException e) {
            if (e.errorClass() == ErrorClass.CommandNotFound) {
                return new Outcome.Unavailable("'" + e.command() + "' not implemented (CommandNotFound: " + e.desc() + ")");
            }
            if (e.command().equals("migrate-set-capabilities") && e.desc().contains("does not accept value")) {
                return new Outcome.Unavailable("capability '" + scenario.aid().capability() + "' unknown here (" + e.desc() + ")");
            }
            return new Outcome.Failed(e.getMessage());
        } catch (CheckFailedException e) {
            return new Outcome.Failed("check: " + e.getMessage());
        } catch (RuntimeException e) {
            return new Outcome.Failed(e.toString());
        }
    }

    private Outcome runOrThrow(GuestPair pair, Scenario scenario) {
        QmpClient src = pair.source();
        QmpClient dst = pair.destination();
        String steady = pair.awaitWorkloadRunning(stepDeadline);

        String uri = "tcp:127.0.0.1:" + freeLoopbackPort();
        dst.execute("migrate-set-capabilities", eventsOn());
        dst.execute("stop");
        dst.execute("migrate-incoming", JSON.objectNode().put("uri", uri));

        src.execute("migrate-set-capabilities", scenario.aid().capability() == null ? eventsOn()
                : capabilities("events", scenario.aid().capability()));
        if (!scenario.verify()) {
            // Only converge knows it; the verification-cost row runs only on converge's side.
            src.execute("migrate-set-capabilities", JSON.objectNode().set("capabilities", JSON.arrayNode()
                    .add(JSON.objectNode().put("capability", "x-converge-verify").put("state", false))));
        }
        src.execute("migrate-set-parameters", JSON.objectNode().put("downtime-limit", scenario.downtimeMs())
                .put("max-bandwidth", Scenario.UNLIMITED_BANDWIDTH));
        src.drainEvents();
        lastDirtyRate = 0;
        src.execute("migrate", JSON.objectNode().put("uri", uri));

        String status;
        try {
            status = awaitFinalSampling(pair, scenario.maxTime());
        } catch (QmpTimeoutException e) {
            MigrationFigures before = MigrationFigures.parse(src.execute("query-migrate"));
            src.execute("migrate_cancel");
            awaitFinal(src, stepDeadline);
            return new Outcome.NotConverged(before, scenario.maxTime().toSeconds());
        }
        if (!status.equals("completed")) {
            JsonNode info = src.execute("query-migrate");
            return new Outcome.Failed("migration " + status + ": " + info.path("error-desc").asText("(no error-desc)"));
        }
        // QEMU sends "completed" before it computes total-time and downtime (0 until then) and
        // enters postmigrate right after computing them: read the figures only in postmigrate.
        awaitStatus(src, "source", "postmigrate");
        MigrationFigures figures = MigrationFigures.parse(src.execute("query-migrate"));
        dst.awaitEvent(e -> isMigration(e) && e.path("data").path("status").asText().equals("completed"), stepDeadline);
        awaitStatus(dst, "destination", "paused");
        String state = pair.compareState();
        dst.execute("cont");
        String runs = pair.checkDestinationRuns(stepDeadline);
        return new Outcome.Completed(figures, steady + "; " + state + "; " + runs);
    }

    /**
     * {@link #awaitFinal}, reading query-migrate every {@link #SAMPLE} meanwhile to keep the
     * dirty rate the source reports while active (QEMU drops it from the reply once completed).
     */
    private String awaitFinalSampling(GuestPair pair, Duration timeout) {
        QmpClient c = pair.source();
        long start = System.nanoTime();
        long end = start + timeout.toNanos();
        while (true) {
            long left = end - System.nanoTime();
            if (left <= 0) {
                throw new QmpTimeoutException("no final MIGRATION event within " + timeout);
            }
            try {
                return awaitFinal(c, Duration.ofNanos(Math.min(left, SAMPLE.toNanos())));
            } catch (QmpTimeoutException e) {
                JsonNode info = c.execute("query-migrate");
                if (TRACE) {
                    trace(pair, info, System.nanoTime() - start);
                }
                long pages = info.path("ram").path("dirty-pages-rate").asLong(0);
                if (info.path("status").asText().equals("active") && pages > 0) {
                    lastDirtyRate = pages * 4096;
                }
            }
        }
    }

    /**
     * One line per sample on stderr: time since migrate, passes, bytes sent, still dirty, the dirty
     * rate, and the source guest's serial bytes (its passes over RAM, the speed it dirties at).
     */
    private static void trace(GuestPair pair, JsonNode info, long nanos) {
        JsonNode ram = info.path("ram");
        System.err.printf(Locale.ROOT, "  trace %6d ms %-9s sync %3d sent %8.1f MiB remaining %7.1f MiB dirty-rate %7d pages/s"
                + " guest marks %d%n", nanos / 1_000_000, info.path("status").asText(), ram.path("dirty-sync-count").asLong(),
                ram.path("transferred").asLong() / 1048576.0, ram.path("remaining").asLong() / 1048576.0,
                ram.path("dirty-pages-rate").asLong(), pair.sourceSerialBytes());
    }

    private static String awaitFinal(QmpClient c, Duration timeout) {
        JsonNode e = c.awaitEvent(ev -> isMigration(ev) && FINAL.contains(ev.path("data").path("status").asText()), timeout);
        return e.path("data").path("status").asText();
    }

    private static boolean isMigration(JsonNode event) {
        return "MIGRATION".equals(event.path("event").asText());
    }

    /**
     * Waits until {@code query-status} says {@code expected}. No event marks this run-state change
     * (the vCPUs stopped long before), so it polls, every 5 ms, until the step deadline.
     */
    private void awaitStatus(QmpClient c, String role, String expected) {
        long end = System.nanoTime() + stepDeadline.toNanos();
        while (true) {
            String s = c.execute("query-status").path("status").asText();
            if (s.equals(expected)) {
                return;
            }
            if (System.nanoTime() > end) {
                throw new CheckFailedException(role + " is " + s + " after the migration completed (expected: " + expected + ")");
            }
            LockSupport.parkNanos(POLL_NANOS);
        }
    }

    static ObjectNode capabilities(String... names) {
        ObjectNode args = JSON.objectNode();
        for (String n : names) {
            args.withArray("capabilities").addObject().put("capability", n).put("state", true);
        }
        return args;
    }

    private static ObjectNode eventsOn() {
        ObjectNode args = JSON.objectNode();
        args.putArray("capabilities").addObject().put("capability", "events").put("state", true);
        return args;
    }

    /**
     * A port nobody listens on now. Another process could take it before the destination binds
     * it; then {@code migrate-incoming} fails and the run reports that.
     */
    static int freeLoopbackPort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException("no free loopback port: " + e.getMessage(), e);
        }
    }

    /** Starts one side's pair of guests (a daemon pair, a QEMU pair). */
    @FunctionalInterface
    public interface PairStart {
        GuestPair start() throws IOException, SideUnavailableException;
    }

    /**
     * Starts a pair with {@code start}, runs the scenario on it and closes it: a side that cannot
     * start is {@link Outcome.Unavailable} or {@link Outcome.Failed}; a failed QEMU run carries
     * QEMU's logs.
     */
    public Outcome runStarted(String side, PairStart start, Scenario scenario) {
        try {
            GuestPair pair = start.start();
            try (pair) {
                Outcome o = run(pair, scenario);
                if (o instanceof Outcome.Failed f && pair instanceof QemuPair q) {
                    return new Outcome.Failed(f.reason() + " (" + q.logs() + ")");
                }
                return o;
            }
        } catch (SideUnavailableException e) {
            return new Outcome.Unavailable(e.getMessage());
        } catch (IOException | RuntimeException e) {
            return new Outcome.Failed(side + " did not start: " + e.getMessage());
        }
    }
}
