package dev.converge.job;

import java.util.Locale;

/**
 * The status of a job, as QEMU's {@code JobStatus} (qapi/job.json). Which status may follow
 * which is data in {@link JobTables}; see there and docs/architecture.md for the arrows.
 */
public enum JobStatus {
    /** Erroneous, default state. A job never stays here: creation moves it to CREATED. */
    UNDEFINED,
    /** Created but not started: no thread runs it yet. */
    CREATED,
    /** Its run() is working. */
    RUNNING,
    /** Paused at a pause point (user pause or internal pause) while it was RUNNING. */
    PAUSED,
    /** Converged: the job may be completed; it keeps working to stay converged. */
    READY,
    /** Paused while READY; resuming returns to READY. */
    STANDBY,
    /** run() ended successfully; waits for the other jobs of its transaction. */
    WAITING,
    /** Every job of the transaction ended; waits to be finalized (automatically or by job-finalize). */
    PENDING,
    /** Failed or cancelled: its transaction is rolled back (abort, clean). */
    ABORTING,
    /** Done (commit or abort and clean ran); waits to be dismissed. */
    CONCLUDED,
    /** Dismissed: gone from the registry. */
    NULL;

    private final String wireName = name().toLowerCase(Locale.ROOT);

    /** The QMP spelling: "undefined", "created", ..., "null". */
    public String wireName() {
        return wireName;
    }
}
