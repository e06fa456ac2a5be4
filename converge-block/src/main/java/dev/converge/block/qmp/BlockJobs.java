package dev.converge.block.qmp;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * The block jobs that the legacy block-job commands ({@link BlockJobQmp}) and the BLOCK_JOB_*
 * events ({@link BlockJobEvents}) serve: every kind that runs on the block layer (mirror,
 * backup) adds a lookup of its live jobs here, so one legacy layer serves them all.
 * <p>
 * Kinds are added at wiring time; lookups run on the main loop and on the threads that deliver
 * job events, so the list is copy-on-write and each kind's lookup must be thread-safe.
 */
final class BlockJobs {
    /**
     * What the legacy layer shows of one block job beyond the engine's state.
     *
     * @param busy     whether the job's thread is doing work now (query-block-jobs busy)
     * @param ioStatus QEMU's io-status: ok, failed or nospace
     */
    record Entry(boolean busy, String ioStatus) {
    }

    /** One lookup per block job kind, by job id. Copy-on-write: added at wiring, read anywhere. */
    private final List<Function<String, Optional<Entry>>> kinds = new CopyOnWriteArrayList<>();

    /** Adds a kind's lookup of its live jobs by id (empty: not one of this kind). Wiring time. */
    void addKind(Function<String, Optional<Entry>> lookup) {
        kinds.add(lookup);
    }

    /** The live block job with this id, if any kind knows it. */
    Optional<Entry> find(String id) {
        for (Function<String, Optional<Entry>> k : kinds) {
            Optional<Entry> e = k.apply(id);
            if (e.isPresent()) {
                return e;
            }
        }
        return Optional.empty();
    }

    /** Whether {@code id} names a live block job. */
    boolean contains(String id) {
        return find(id).isPresent();
    }
}
