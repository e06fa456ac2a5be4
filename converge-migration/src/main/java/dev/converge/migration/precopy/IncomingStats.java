package dev.converge.migration.precopy;

/**
 * What the incoming side has taken in so far (the destination's query-migrate ram members). One
 * immutable snapshot, replaced as a whole, so that a reader on another thread never mixes
 * members of two moments.
 *
 * @param bytes       stream bytes read from the connection, framing included (may end inside a
 *                    record not applied yet)
 * @param normalPages pages received with their data (PAGE, and each page of a PAGE_BATCH), applied
 * @param zeroPages   ZERO_PAGE records received, applied
 * @param passes      END_OF_PASS records received (the source's passes over dirty RAM)
 */
public record IncomingStats(long bytes, long normalPages, long zeroPages, long passes) {
    /** Before the first byte. */
    public static final IncomingStats NONE = new IncomingStats(0, 0, 0, 0);
}
