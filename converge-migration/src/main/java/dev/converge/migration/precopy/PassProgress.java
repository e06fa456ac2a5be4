package dev.converge.migration.precopy;

/**
 * Counters of an outgoing migration in the middle of a pass, reported about every
 * {@link #INTERVAL_NANOS}: a first pass over a large guest on a slow link takes minutes, and
 * query-migrate and query-jobs must move meanwhile (QEMU's counters move with every page).
 *
 * @param bytesSent      bytes written to the stream so far (framing included)
 * @param pagesSent      pages sent with their data
 * @param zeroPages      pages sent as zero markers
 * @param remainingBytes bytes of RAM still marked in this pass's bitmap (pages × 4096); it falls
 *                       as the pass goes on, as QEMU's {@code remaining}
 * @param bandwidth      bytes per second since the previous report
 * @param multifdBytes   of bytesSent, those written on the multifd channels
 */
public record PassProgress(long bytesSent, long pagesSent, long zeroPages, long remainingBytes, double bandwidth,
        long multifdBytes) implements SentCounters {
    /** How often, at most, the sender reports within a pass: QEMU's rate counters move every 100 ms too. */
    public static final long INTERVAL_NANOS = 100_000_000L;
}
