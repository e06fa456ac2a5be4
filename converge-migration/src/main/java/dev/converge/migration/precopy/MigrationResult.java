package dev.converge.migration.precopy;

/**
 * How an outgoing migration went.
 *
 * @param passes     passes over dirty RAM before the switchover
 * @param bytesSent  bytes written to the stream
 * @param pagesSent  pages sent with their data
 * @param zeroPages  pages sent as zero markers
 * @param downtimeMs time the source vCPUs were stopped until the destination acknowledged
 * @param multifdBytes of bytesSent, those written on the multifd channels
 */
public record MigrationResult(long passes, long bytesSent, long pagesSent, long zeroPages, long downtimeMs,
        long multifdBytes) implements SentCounters {
    /** The result of a migration without multifd. */
    public MigrationResult(long passes, long bytesSent, long pagesSent, long zeroPages, long downtimeMs) {
        this(passes, bytesSent, pagesSent, zeroPages, downtimeMs, 0);
    }
}
