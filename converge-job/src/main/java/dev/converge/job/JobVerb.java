package dev.converge.job;

import java.util.Locale;

/**
 * The user commands a job accepts depending on its status (QEMU's {@code JobVerb}). Which
 * status accepts which verb is data in {@link JobTables}.
 */
public enum JobVerb {
    CANCEL, PAUSE, RESUME, SET_SPEED, COMPLETE, FINALIZE, DISMISS, CHANGE;

    private final String wireName = name().toLowerCase(Locale.ROOT).replace('_', '-');

    /** The QMP spelling: "cancel", "pause", "set-speed", ... */
    public String wireName() {
        return wireName;
    }
}
