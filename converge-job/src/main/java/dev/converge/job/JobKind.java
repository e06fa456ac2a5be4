package dev.converge.job;

import java.util.Objects;

/**
 * A kind of job, declared once: its type name and the two records its driver speaks. The
 * change-options record holds what the user's job-change may set (each component optional:
 * absent means "leave as it is"); the info record holds the kind's own members of a query-jobs
 * entry. Member names, docs and defaults live on those records (the QMP binding derives the
 * JobInfo and job-change variants from them, see {@code dev.converge.job.qmp.JobQmp}); the
 * engine only carries the typed values between the binding and the {@link JobDriver}.
 *
 * @param type          the job type ("mirror", "migration", ...), QEMU's JobType value
 * @param changeOptions the record job-change hands the driver, or null: the kind supports no change
 * @param info          the record {@link JobDriver#info()} returns, or null: no members of its own
 * @param <C>           the change-options record
 * @param <I>           the info record
 */
public record JobKind<C extends Record, I extends Record>(String type, Class<C> changeOptions, Class<I> info) {
    public JobKind {
        Objects.requireNonNull(type, "type");
        if (type.isEmpty()) {
            throw new IllegalArgumentException("job type must be named");
        }
    }

    /** A kind with no change options and no info members of its own. */
    public static JobKind<Record, Record> plain(String type) {
        return new JobKind<>(type, null, null);
    }
}
