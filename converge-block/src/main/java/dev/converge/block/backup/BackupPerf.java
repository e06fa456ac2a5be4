package dev.converge.block.backup;

/**
 * Performance knobs of a backup (QEMU's BackupPerf, {@code x-perf}): unstable, as QEMU's.
 *
 * @param useCopyRange accepted for compatibility; converge always copies through a buffer
 * @param maxWorkers   copy requests in flight at once (QEMU: 1 to INT_MAX; converge runs at most
 *                     {@link #MAX_THREADS} at once)
 * @param maxChunk     the largest single copy request in bytes; 0: the default
 *                     ({@link #DEFAULT_CHUNK})
 */
public record BackupPerf(boolean useCopyRange, long maxWorkers, long maxChunk) {
    /** QEMU's default max-workers. */
    public static final long DEFAULT_WORKERS = 64;
    /** The most copy threads converge runs for one job, whatever max-workers says. */
    public static final int MAX_THREADS = 16;
    /** The largest copy request (QEMU's BLOCK_COPY_MAX_BUFFER). */
    public static final long DEFAULT_CHUNK = 1L << 20;

    /** QEMU's defaults: no copy range, 64 workers, no chunk limit. */
    public static BackupPerf defaults() {
        return new BackupPerf(false, DEFAULT_WORKERS, 0);
    }

    /** Threads to copy with. */
    int threads() {
        return (int) Math.max(1, Math.min(maxWorkers, MAX_THREADS));
    }

    /** The largest copy request in bytes, a multiple of {@code cluster}, at least one cluster. */
    long chunk(long cluster) {
        long c = maxChunk == 0 ? DEFAULT_CHUNK : Math.min(maxChunk, DEFAULT_CHUNK);
        c -= c % cluster;
        return Math.max(cluster, c);
    }
}
