package dev.converge.migration.precopy;

/**
 * A snapshot of an outgoing migration after a pass (what query-migrate and the job's
 * progress show).
 *
 * @param pass               passes completed (1 after the first pass over all RAM)
 * @param bytesSent          bytes written to the stream so far (framing included)
 * @param pagesSent          pages sent with their data
 * @param zeroPages          pages sent as zero markers
 * @param remainingBytes     bytes of RAM dirty now (pages × 4096)
 * @param bandwidth          bytes per second measured over the last pass with enough data
 * @param expectedDowntimeMs remaining ÷ bandwidth, {@link Long#MAX_VALUE} when unknown
 * @param converged          whether the policy says the switchover fits the downtime limit
 * @param throttlePercent    auto-converge's hold on the vCPUs, 0 when none (QEMU's cpu-throttle-percentage)
 * @param dirtyLimit         dirty-limit's cap on each vCPU in bytes per second, 0 when none
 * @param multifdBytes       of bytesSent, those written on the multifd channels (query-migrate's multifd-bytes)
 */
public record MigrationProgress(long pass, long bytesSent, long pagesSent, long zeroPages, long remainingBytes,
        double bandwidth, long expectedDowntimeMs, boolean converged, int throttlePercent,
        long dirtyLimit, long multifdBytes) implements SentCounters {
    /** A snapshot of a migration without multifd. */
    public MigrationProgress(long pass, long bytesSent, long pagesSent, long zeroPages, long remainingBytes,
            double bandwidth, long expectedDowntimeMs, boolean converged, int throttlePercent, long dirtyLimit) {
        this(pass, bytesSent, pagesSent, zeroPages, remainingBytes, bandwidth, expectedDowntimeMs, converged,
                throttlePercent, dirtyLimit, 0);
    }
}
