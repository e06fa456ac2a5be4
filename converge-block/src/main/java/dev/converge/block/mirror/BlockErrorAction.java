package dev.converge.block.mirror;

import java.util.Locale;

/** What a job does about one I/O error (QEMU's BlockErrorAction, the {@code action} of BLOCK_JOB_ERROR). */
public enum BlockErrorAction {
    /** The error was ignored: the range stays dirty and is copied again later. */
    IGNORE,
    /** The error was reported: the job fails with it. */
    REPORT,
    /** The job was paused (as a user pause): resuming it retries the range. */
    STOP;

    /** The QMP spelling. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
