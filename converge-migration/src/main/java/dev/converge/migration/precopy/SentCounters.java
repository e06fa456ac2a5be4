package dev.converge.migration.precopy;

/**
 * What an outgoing migration has sent so far, as the snapshots after a pass
 * ({@link MigrationProgress}), within one ({@link PassProgress}) and at the end
 * ({@link MigrationResult}) all carry it; query-migrate reads the newest.
 */
public interface SentCounters {
    /** Bytes written to the stream (framing included). */
    long bytesSent();

    /** Pages sent with their data. */
    long pagesSent();

    /** Pages sent as zero markers. */
    long zeroPages();

    /** Of {@link #bytesSent}, those written on the multifd channels. */
    long multifdBytes();
}
