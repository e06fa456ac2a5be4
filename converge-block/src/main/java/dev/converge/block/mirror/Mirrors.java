package dev.converge.block.mirror;

import dev.converge.block.BlockBackend;
import dev.converge.block.BlockChild;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.NodeNames;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.job.Job;
import dev.converge.job.JobDriver;
import dev.converge.job.JobEngine;
import dev.converge.job.JobKind;
import dev.converge.job.JobListener;
import dev.converge.job.JobOptions;
import dev.converge.job.JobStatus;
import dev.converge.qmp.QmpException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The domain act of starting a mirror, and the live mirror jobs: the checks QEMU makes about
 * the nodes (root node, busy target, replaces, the node into itself), the setup that must come
 * before the job may start (dirty bitmap on the source, the whole disk dirty for a full sync,
 * the filter above the source, the job's user of the target), and the undo when the engine
 * refuses the job. It knows nothing of QMP: refusals are {@link MirrorRefusedException}s with
 * QEMU's texts, and the QMP binding ({@code dev.converge.block.qmp.MirrorQmp}) translates them.
 * <p>
 * Main loop only, as the block graph and the engine's verbs are; the live-jobs map is also read
 * by job listeners on other threads.
 */
public final class Mirrors implements JobListener {
    private final JobEngine engine;
    private final BlockGraph graph;
    private final MirrorJob.ErrorReporter reporter;
    /** Live mirror jobs by id; written on the main loop and by this listener, read by any thread. */
    private final Map<String, MirrorJob> jobs = new ConcurrentHashMap<>();

    /**
     * @param reporter announces the jobs' I/O errors (BLOCK_JOB_ERROR) and applies a stop
     */
    public Mirrors(JobEngine engine, BlockGraph graph, MirrorJob.ErrorReporter reporter) {
        this.engine = Objects.requireNonNull(engine);
        this.graph = Objects.requireNonNull(graph);
        this.reporter = Objects.requireNonNull(reporter);
    }

    /** The live mirror job's driver with this id, if any. */
    public Optional<MirrorJob> driver(String id) {
        return Optional.ofNullable(jobs.get(id));
    }

    /** Whether {@code id} names a live mirror job. */
    public boolean isMirror(String id) {
        return jobs.containsKey(id);
    }

    // ---------------------------------------------------------------- checks, in QEMU's order

    /** @throws MirrorRefusedException "Need a root block node" when {@code source} has a parent node */
    public void checkRoot(BlockNode source) {
        for (BlockChild e : source.parents()) {
            if (e.parentNode() != null) {
                throw new MirrorRefusedException("Need a root block node");
            }
        }
    }

    /** @throws MirrorRefusedException "Node 'T' is busy: ..." when a mirror already reads or writes {@code target} */
    public void checkNotBusy(BlockNode target) {
        if (jobs.values().stream().anyMatch(j -> j.target() == target || j.source() == target)) {
            throw new MirrorRefusedException("Node '" + target.nodeName()
                    + "' is busy: block device is in use by block job: mirror");
        }
    }

    /**
     * {@code replaces}, when given, may only name the source itself (converge has no backing
     * chains, so nothing else could be replaced without an abrupt change of visible data).
     *
     * @throws MirrorRefusedException QEMU's texts for a missing or another node
     */
    public void checkReplaces(BlockNode source, String replaces) {
        BlockNode rn = graph.find(replaces).orElseThrow(
                () -> new MirrorRefusedException("Failed to find node with node-name='" + replaces + "'"));
        if (rn != source) {
            throw new MirrorRefusedException("Cannot replace '" + replaces + "' by a node mirrored from '"
                    + source.nodeName() + "', because it cannot be guaranteed that doing so would not lead to an "
                    + "abrupt change of visible data");
        }
    }

    /** @throws MirrorRefusedException "Can't mirror node into itself" */
    public void checkDistinct(BlockNode source, BlockNode target) {
        if (source == target) {
            throw new MirrorRefusedException("Can't mirror node into itself");
        }
    }

    // ---------------------------------------------------------------- the act

    /**
     * Starts a mirror job (for Java callers such as a transaction with a migration, and for
     * blockdev-mirror after its checks). The dirty bitmap is on the source before the job
     * starts; the filter is above the source when this returns.
     *
     * @param filterNodeName the filter's name, or null for a generated one
     * @throws MirrorRefusedException with QEMU's text; nothing changed then
     */
    public Job start(String jobId, BlockNode source, BlockNode target, MirrorOptions opts, JobOptions jobOpts,
            String filterNodeName) {
        Job job = create(jobId, source, target, opts, jobOpts, filterNodeName);
        engine.start(job);
        return job;
    }

    /**
     * Creates a mirror job without starting it (CREATED): the filter is above the source and the
     * dirty bitmap on it, so no write is missed from here on; {@code engine.start(job)} starts
     * the copy, {@code engine.cancel(id, true)} undoes it all. A mirror in a transaction whose
     * switchover another job leads is finished by that switchover (it is a
     * {@link dev.converge.job.SwitchoverParticipant}).
     *
     * @throws MirrorRefusedException with QEMU's text (also the engine's refusal of the job id);
     *                                nothing changed then
     */
    public Job create(String jobId, BlockNode source, BlockNode target, MirrorOptions opts, JobOptions jobOpts,
            String filterNodeName) {
        return create(jobId, source, target, opts, jobOpts, filterNodeName, MirrorJob.KIND, m -> m,
                source.backing().orElse(null));
    }

    /**
     * {@link #create(String, BlockNode, BlockNode, MirrorOptions, JobOptions, String)} as a job of
     * another kind that drives the mirror ({@code wrap} makes its driver around the mirror's):
     * active commit is a mirror of the active layer onto its base. With sync {@code top}, what
     * the nodes from the source down to {@code base} (excluded; null: the whole chain) hold
     * starts dirty.
     */
    public <C extends Record, I extends Record> Job create(String jobId, BlockNode source, BlockNode target,
            MirrorOptions opts, JobOptions jobOpts, String filterNodeName, JobKind<C, I> kind,
            Function<MirrorJob, JobDriver<C, I>> wrap, BlockNode base) {
        String filterName = filterNodeName;
        if (filterName != null) {
            if (!NodeNames.wellFormed(filterName) || filterName.length() > NodeNames.MAX_LENGTH) {
                throw new MirrorRefusedException("Invalid node-name: '" + filterName + "'");
            }
            try {
                graph.checkNameFree(filterName);
            } catch (QmpException e) {
                throw new MirrorRefusedException(e.getMessage(), e);
            }
        } else {
            filterName = NodeNames.generate();
        }
        long size;
        try {
            size = source.size();
        } catch (BlockIOException e) {
            throw new MirrorRefusedException("Unable to get length for '" + source.nodeName() + "': " + e.getMessage(), e);
        }
        if (size / opts.granularity() >= Integer.MAX_VALUE) {
            throw new MirrorRefusedException("Parameter 'granularity' is too small for a disk of " + size + " bytes");
        }
        DirtyBitmap bitmap;
        try {
            bitmap = source.addDirtyBitmap(null, opts.granularity());
        } catch (BlockIOException e) {
            throw new MirrorRefusedException("Unable to get length for '" + source.nodeName() + "': " + e.getMessage(), e);
        }
        bitmap.setBusy(true);
        if (opts.sync().copiesExistingData()) {
            // Before the filter exists: a write-blocking guest write decides from the bitmap whether
            // the partly written granules were clean, so the whole disk must be dirty before the
            // first such write, or a granule it touches would count as copied while only the
            // written part reached the target.
            if (opts.sync() == MirrorSyncMode.TOP) {
                markAllocatedAbove(source, base, bitmap, size);
            } else {
                bitmap.setDirty(0, size);
            }
        }
        MirrorFilterNode filter = new MirrorFilterNode(filterName, source);
        BlockBackend targetUser = graph.attachBackend(null, target);
        MirrorJob driver = new MirrorJob(jobId, graph, source, target, filter, targetUser, bitmap, opts, reporter);
        Job job;
        try {
            job = engine.create(jobId, kind, wrap.apply(driver), jobOpts);
        } catch (RuntimeException e) {
            filter.attach(null);
            source.removeDirtyBitmap(bitmap);
            graph.detachBackend(targetUser);
            BlockGraph.discardUnregistered(List.of(filter));
            throw e instanceof dev.converge.job.JobException je ? new MirrorRefusedException(je.getMessage(), je) : e;
        }
        jobs.put(jobId, driver);
        // Cannot fail: the name was checked, the filter is new and the source has no parent node.
        graph.addInternalNode(filter);
        graph.replaceNode(source, filter);
        return job;
    }

    /** Forgets a mirror job once it is dismissed. */
    @Override
    public void statusChanged(Job job, JobStatus newStatus) {
        if (newStatus == JobStatus.NULL) {
            jobs.remove(job.id());
        }
    }

    /**
     * sync: top: only what the chain holds above {@code base} (the source's top layer for a
     * mirror, everything above the base for active commit) starts dirty; the target is expected
     * to have the rest through its own backing. A node without a backing chain reports
     * everything allocated: the whole disk.
     */
    private static void markAllocatedAbove(BlockNode source, BlockNode base, DirtyBitmap bitmap, long size) {
        try {
            for (dev.converge.block.Extent e : dev.converge.block.BackingChain.allocatedAbove(source, base, 0, size)) {
                bitmap.setDirty(e.offset(), e.length());
            }
        } catch (BlockIOException e) {
            bitmap.setDirty(0, size); // unknown allocation: copy everything, which is always right
        }
    }
}
