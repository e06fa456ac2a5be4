package dev.converge.block;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * The live block jobs of every kind, found through the registries of the kinds (the mirrors,
 * the streams, the commits), so that query-block-jobs, the block-job-* verbs and the
 * BLOCK_JOB_* events treat them alike. Sources are added at wiring time; lookups run on any
 * thread (listeners deliver events on the thread that caused them).
 */
public final class BlockJobs {
    private final List<Function<String, Optional<? extends BlockJob>>> sources = new CopyOnWriteArrayList<>();

    /** Adds a kind's registry: its live job by id, if any. */
    public void addSource(Function<String, Optional<? extends BlockJob>> source) {
        sources.add(source);
    }

    /** The live block job with this id, of any kind. */
    public Optional<BlockJob> find(String id) {
        for (Function<String, Optional<? extends BlockJob>> s : sources) {
            Optional<? extends BlockJob> j = s.apply(id);
            if (j.isPresent()) {
                return Optional.of(j.get());
            }
        }
        return Optional.empty();
    }

    /** Whether {@code id} names a live block job. */
    public boolean contains(String id) {
        return find(id).isPresent();
    }
}
