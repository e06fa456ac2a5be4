package dev.converge.job.qmp;

import dev.converge.qmp.schema.ObjectType;
import java.util.Objects;

/**
 * A job type as a module declares it to the QMP layer: its value of the JobType enum, the
 * members job-change accepts for it and the members query-jobs shows for it (beside the generic
 * JobInfo members).
 *
 * @param type          the JobType value, e.g. "mirror"
 * @param changeOptions the type-specific job-change members (a struct), or null when none
 * @param info          the type-specific query-jobs members (a struct), or null when none
 */
public record JobTypeSchema(String type, ObjectType changeOptions, ObjectType info) {
    public JobTypeSchema {
        Objects.requireNonNull(type, "type");
        if (type.isEmpty()) {
            throw new IllegalArgumentException("job type must be named");
        }
        if (changeOptions != null && changeOptions.isUnion() || info != null && info.isUnion()) {
            throw new IllegalArgumentException("job type '" + type + "': variants must be structs");
        }
    }
}
