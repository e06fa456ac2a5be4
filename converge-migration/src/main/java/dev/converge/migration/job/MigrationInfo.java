package dev.converge.migration.job;

import dev.converge.qmp.schema.QmpDoc;
import java.util.OptionalLong;

/**
 * The migration's own members of its query-jobs entry; declared once, the QMP variant
 * (JobInfoMigration) is derived from it.
 */
@QmpDoc("What query-jobs shows for a migration job")
public record MigrationInfo(
        @QmpDoc("the migration's own status (setup, active, device, pre-switchover, completed, ...)")
        MigrationStatus migrationStatus,
        @QmpDoc("passes over RAM so far") long pass,
        @QmpDoc("bytes dirtied per second over the last pass") long dirtyRate,
        @QmpDoc("ms the switchover would take now; absent before the bandwidth is known") OptionalLong expectedDowntime,
        @QmpDoc("bytes of RAM still dirty") long remaining,
        @QmpDoc("whether the remainder fits downtime-limit now (a ready job may stop fitting when the dirty rate rises)")
        boolean converged,
        @QmpDoc("auto-converge's throttle on the vCPUs, % (only while it holds them back)")
        OptionalLong cpuThrottlePercentage,
        @QmpDoc("dirty-limit's cap on each vCPU's dirty rate, bytes per second (only while it holds them back)")
        OptionalLong dirtyLimit) {
}
