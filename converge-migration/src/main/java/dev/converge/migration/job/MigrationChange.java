package dev.converge.migration.job;

import dev.converge.qmp.schema.QmpDoc;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What job-change may set on a migration job; declared once, the QMP variant
 * (JobChangeOptionsMigration) is derived from it. Each member is the migration parameter of the
 * same name, changed as migrate-set-parameters changes it.
 *
 * @param downtimeLimit ms; empty: unchanged
 * @param maxBandwidth  bytes per second, 0 = unlimited; empty: unchanged
 * @param startPostcopy true: switch to postcopy, as migrate-start-postcopy (false and empty: nothing)
 */
@QmpDoc("Options job-change accepts for a migration job")
public record MigrationChange(
        @QmpDoc(value = "new downtime-limit in ms (0..2000000)", type = "uint64") OptionalLong downtimeLimit,
        @QmpDoc(value = "new max-bandwidth in bytes per second (0 = unlimited)", type = "size") OptionalLong maxBandwidth,
        @QmpDoc("true: switch to postcopy now, as migrate-start-postcopy (needs the capability postcopy-ram)")
        Optional<Boolean> startPostcopy) {
}
