package dev.converge.block;

/**
 * What the legacy block-job commands and the BLOCK_JOB_* events need of a block job's driver
 * (mirror, stream, commit, ...) beyond the generic engine: QEMU's BlockJob fields.
 */
public interface BlockJob {
    /** The job's id. */
    String id();

    /** Whether the job's thread is working now (query-block-jobs {@code busy}). */
    boolean isBusy();

    /** QEMU's io-status: "ok", "failed" or "nospace". */
    String ioStatus();
}
