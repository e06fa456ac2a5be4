package dev.converge.migration.machine;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * The machine's run state, QEMU's {@code RunState} (qapi/run-state.json), limited to the
 * states a converge machine can reach. The allowed transitions are a table ({@link #TRANSITIONS},
 * taken from QEMU's {@code runstate_transitions_def}); {@link Machine} changes state only
 * through one chokepoint that checks it.
 *
 * <pre>
 *  prelaunch ──▶ running ◀──▶ paused
 *      │            │  ▲          │
 *      ▼            ▼  │          ▼
 *  inmigrate ──▶ finish-migrate ──▶ postmigrate ──▶ running (cont)
 *      │  (incoming completes) ──▶ paused / running
 *  running ──▶ shutdown (a guest reset with reboot=shutdown) ──▶ prelaunch (system_reset)
 * </pre>
 */
public enum RunState {
    /** Created, never run (QEMU -S before the first cont). */
    PRELAUNCH("prelaunch", false),
    /** Waiting for an incoming migration. */
    INMIGRATE("inmigrate", false),
    /** vCPUs run. */
    RUNNING("running", true),
    /** Stopped by the user ({@code stop}) or after an incoming migration without autostart. */
    PAUSED("paused", false),
    /** vCPUs stopped for the last step of an outgoing migration. */
    FINISH_MIGRATE("finish-migrate", false),
    /** An outgoing migration completed; the destination owns the guest now. */
    POSTMIGRATE("postmigrate", false),
    /** An internal error stopped the vCPUs. */
    INTERNAL_ERROR("internal-error", false),
    /**
     * The guest shut down: its reset request was turned into a shutdown ({@code set-action
     * reboot=shutdown}, QEMU's {@code -no-reboot}). Only {@code system_reset} leaves it.
     */
    SHUTDOWN("shutdown", false);

    /** Allowed transitions: row = from. */
    public static final Map<RunState, Set<RunState>> TRANSITIONS;

    static {
        Map<RunState, Set<RunState>> t = new EnumMap<>(RunState.class);
        t.put(PRELAUNCH, EnumSet.of(RUNNING, INMIGRATE, FINISH_MIGRATE));
        t.put(INMIGRATE, EnumSet.of(RUNNING, PAUSED, FINISH_MIGRATE, POSTMIGRATE, INTERNAL_ERROR));
        t.put(RUNNING, EnumSet.of(PAUSED, FINISH_MIGRATE, POSTMIGRATE, INTERNAL_ERROR, SHUTDOWN));
        t.put(PAUSED, EnumSet.of(RUNNING, FINISH_MIGRATE, POSTMIGRATE, PRELAUNCH));
        t.put(FINISH_MIGRATE, EnumSet.of(RUNNING, PAUSED, POSTMIGRATE, INTERNAL_ERROR));
        t.put(POSTMIGRATE, EnumSet.of(RUNNING, FINISH_MIGRATE, PRELAUNCH));
        t.put(INTERNAL_ERROR, EnumSet.of(RUNNING, PAUSED, FINISH_MIGRATE, PRELAUNCH));
        t.put(SHUTDOWN, EnumSet.of(PAUSED, FINISH_MIGRATE, PRELAUNCH));
        TRANSITIONS = java.util.Collections.unmodifiableMap(t);
    }

    private final String wireName;
    private final boolean vcpusRun;

    RunState(String wireName, boolean vcpusRun) {
        this.wireName = wireName;
        this.vcpusRun = vcpusRun;
    }

    /** The QAPI name, e.g. "finish-migrate". */
    public String wireName() {
        return wireName;
    }

    /** Whether the vCPUs run in this state (query-status {@code running}). */
    public boolean vcpusRun() {
        return vcpusRun;
    }

    /** Whether {@code next} may follow this state. */
    public boolean canGoTo(RunState next) {
        return TRANSITIONS.get(this).contains(next);
    }
}
