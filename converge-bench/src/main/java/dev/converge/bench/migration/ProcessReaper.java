package dev.converge.bench.migration;

import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The processes a benchmark run started, killed by a JVM shutdown hook if the run ends without
 * closing them (Ctrl-C, an uncaught error), so that no guest or daemon outlives the benchmark.
 * Normal cleanup is each launcher's {@code close()} in a finally block; this is the backstop.
 */
public final class ProcessReaper {
    private final Object lock = new Object();
    /** Guarded by lock: processes started and not yet closed. */
    private final Set<ProcessHandle> live = new LinkedHashSet<>();

    /** A reaper whose shutdown hook is installed. */
    public static ProcessReaper installed() {
        ProcessReaper r = new ProcessReaper();
        Runtime.getRuntime().addShutdownHook(new Thread(r::killAll, "migration-bench-reaper"));
        return r;
    }

    /** Remembers {@code p} until {@link #forget}. */
    public void track(ProcessHandle p) {
        synchronized (lock) {
            live.add(p);
        }
    }

    /** {@code p} was closed normally. */
    public void forget(ProcessHandle p) {
        synchronized (lock) {
            live.remove(p);
        }
    }

    /** The process with {@code pid} was closed normally (for launchers that know only the pid). */
    public void forgetPid(long pid) {
        synchronized (lock) {
            live.removeIf(p -> p.pid() == pid);
        }
    }

    /** Kills every tracked process (and its children) and waits a little for each. */
    public void killAll() {
        Set<ProcessHandle> victims;
        synchronized (lock) {
            victims = new LinkedHashSet<>(live);
            live.clear();
        }
        for (ProcessHandle p : victims) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (ProcessHandle p : victims) {
            try {
                p.onExit().get(5, TimeUnit.SECONDS);
            } catch (Exception e) {
                // Best effort at JVM exit: nothing more can be done about a process that will not die.
            }
        }
    }
}
