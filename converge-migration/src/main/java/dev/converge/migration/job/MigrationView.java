package dev.converge.migration.job;

/**
 * One outgoing migration's numbers for query-migrate (QEMU's MigrationInfo and MigrationStats).
 * Times in ms, sizes in bytes, page counts in 4 KiB pages; throttlePercent is auto-converge's
 * hold on the vCPUs (0 when none); postcopyRequests and postcopyBytes are the page requests
 * served and the bytes sent since postcopy began (0 before).
 */
public record MigrationView(MigrationStatus status, long totalTimeMs, long setupTimeMs, long downtimeMs,
        long expectedDowntimeMs, String errorDesc, long transferred, long remaining, long total, long duplicate,
        long normal, long dirtyPagesRate, double mbps, long dirtySyncCount, long precopyBytes, long downtimeBytes,
        int throttlePercent, long postcopyRequests, long postcopyBytes) {
}
