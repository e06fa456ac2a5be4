package dev.converge.migration.job;

import dev.converge.migration.wire.MultifdCompression;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The capabilities and parameters of one daemon, as QEMU's migrate-set-capabilities and
 * migrate-set-parameters keep them. The parameters are one immutable {@link MigrationParameters}
 * in one atomic reference: every change merges and checks the whole set once
 * ({@link #apply}), and a running migration job reads a consistent set after every pass. The
 * capabilities are written on the main loop only (a migration takes a snapshot at its start).
 */
public final class MigrationSettings {
    /** Enabled capabilities; main loop only (a migration takes a snapshot at its start). */
    private final Set<MigrationCapability> capabilities = EnumSet.copyOf(MigrationCapability.defaults());
    /** The parameters; replaced as a whole by {@link #apply}, read by any thread. */
    private final AtomicReference<MigrationParameters> parameters = new AtomicReference<>(MigrationParameters.DEFAULTS);

    /** The parameters now (one consistent set). */
    public MigrationParameters parameters() {
        return parameters.get();
    }

    /**
     * Merges {@code u} into the parameters, checking the merged set (see
     * {@link MigrationParameters#merge}): nothing changes when one value is bad. A running job's
     * speed (max-bandwidth) is the caller's (engine.setSpeed).
     *
     * @return the parameters now
     * @throws MigrationParameters.InvalidParameter with QEMU's text
     */
    public MigrationParameters apply(MigrationParameters.Update u) {
        return parameters.updateAndGet(p -> {
            MigrationParameters next = p.merge(u);
            String problem = has(MigrationCapability.MAPPED_RAM) ? mappedRamProblem(next) : null;
            if (problem != null) {
                throw new MigrationParameters.InvalidParameter(problem);
            }
            return next;
        });
    }

    /** QEMU's migrate_params_check: mapped-ram writes plain pages, neither compressed nor through TLS. */
    private static String mappedRamProblem(MigrationParameters p) {
        if (p.multifd().compression() != MultifdCompression.NONE || p.tls().enabled()) {
            return "Mapped-ram only available for non-compressed non-TLS multifd migration";
        }
        return null;
    }

    /**
     * Checks a capability change as QEMU's migrate_caps_check (on the set it would give), after
     * refusing to turn on a capability converge does not implement (naming the first).
     *
     * @return the problem, or null when the result is valid
     */
    public String checkCapabilities(java.util.Map<MigrationCapability, Boolean> changes) {
        for (var c : changes.entrySet()) {
            if (c.getValue() && !c.getKey().implemented()) {
                return c.getKey().notImplemented();
            }
        }
        Set<MigrationCapability> next = capabilities();
        changes.forEach((c, on) -> {
            if (on) {
                next.add(c);
            } else {
                next.remove(c);
            }
        });
        if (next.contains(MigrationCapability.DIRTY_LIMIT) && next.contains(MigrationCapability.AUTO_CONVERGE)) {
            return "dirty-limit conflicts with auto-converge either of then available currently";
        }
        if (next.contains(MigrationCapability.POSTCOPY_PREEMPT) && !next.contains(MigrationCapability.POSTCOPY_RAM)) {
            return "Postcopy preempt requires postcopy-ram"; // QEMU 10.0's migrate_caps_check
        }
        if (next.contains(MigrationCapability.POSTCOPY_RAM) && next.contains(MigrationCapability.MULTIFD)) {
            return "Postcopy is not yet compatible with multifd"; // QEMU 10.0's migrate_caps_check
        }
        if (next.contains(MigrationCapability.MAPPED_RAM)) {
            if (next.contains(MigrationCapability.POSTCOPY_RAM)) {
                return "Mapped-ram migration is incompatible with postcopy";
            }
            String p = mappedRamProblem(parameters());
            if (p != null) {
                return p;
            }
        }
        return null;
    }

    /** Whether {@code c} is on. Main loop (or a snapshot taken there). */
    public boolean has(MigrationCapability c) {
        return capabilities.contains(c);
    }

    /** A copy of the enabled capabilities. */
    public Set<MigrationCapability> capabilities() {
        return capabilities.isEmpty() ? EnumSet.noneOf(MigrationCapability.class) : EnumSet.copyOf(capabilities);
    }

    /** Turns {@code c} on or off. Main loop. */
    public void set(MigrationCapability c, boolean on) {
        if (on) {
            capabilities.add(c);
        } else {
            capabilities.remove(c);
        }
    }

}
