package dev.converge.block.mirror;

import dev.converge.block.Errno;
import java.util.Locale;

/**
 * A job's policy for I/O errors (QEMU's BlockdevOnError, {@code on-source-error} and
 * {@code on-target-error}). {@link #decide} is QEMU's block_job_error_action decision, a pure
 * function of the policy and the errno.
 */
public enum BlockdevOnError {
    /** Fail the job with the error (the default). */
    REPORT,
    /** Leave the range dirty and go on; it is retried later. */
    IGNORE,
    /** Stop (pause) on ENOSPC, report anything else. */
    ENOSPC,
    /** Stop (pause) the job on any error; resuming retries. */
    STOP,
    /** Only meaningful for guest devices; a job treats it as {@link #REPORT} (as QEMU). */
    AUTO;

    /** The QMP spelling. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The policy for a QMP value, or null when the value is not one. */
    public static BlockdevOnError fromWire(String s) {
        for (BlockdevOnError e : values()) {
            if (e.wireName().equals(s)) {
                return e;
            }
        }
        return null;
    }

    /** What to do about an error with {@code errno} (positive) under this policy. */
    public BlockErrorAction decide(int errno) {
        return switch (this) {
            case REPORT, AUTO -> BlockErrorAction.REPORT;
            case IGNORE -> BlockErrorAction.IGNORE;
            case STOP -> BlockErrorAction.STOP;
            case ENOSPC -> errno == Errno.ENOSPC.code() ? BlockErrorAction.STOP : BlockErrorAction.REPORT;
        };
    }
}
