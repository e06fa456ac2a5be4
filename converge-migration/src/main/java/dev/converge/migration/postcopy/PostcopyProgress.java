package dev.converge.migration.postcopy;

/**
 * The source's postcopy numbers after a batch.
 *
 * @param pagesSent     pages sent since postcopy began (requested or pushed)
 * @param pagesLeft     pages still to send
 * @param requests      page requests received from the destination (query-migrate's postcopy-requests)
 * @param bytes         bytes written since postcopy began (postcopy-bytes)
 */
public record PostcopyProgress(long pagesSent, long pagesLeft, long requests, long bytes) {
}
