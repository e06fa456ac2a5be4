package dev.converge.block.backup;

import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.NodeNames;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.block.mirror.BlockJobErrors;
import dev.converge.block.mirror.MirrorSyncMode;
import dev.converge.job.Job;
import dev.converge.job.JobEngine;
import dev.converge.job.JobException;
import dev.converge.job.JobListener;
import dev.converge.job.JobOptions;
import dev.converge.job.JobStatus;
import dev.converge.qmp.QmpException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The domain act of starting a backup, and the live backup jobs: QEMU's checks about the nodes
 * and the bitmap (backup_job_create), then the setup that fixes the point in time before the job
 * may start: the user's bitmap frozen with a successor, the copy state marked, the
 * copy-before-write filter above the source. It knows nothing of QMP: refusals are
 * {@link BackupRefusedException}s with QEMU's texts, the binding translates them.
 * <p>
 * Main loop only, as the block graph and the engine's verbs are; the live-jobs map is also read
 * by job listeners on other threads.
 */
public final class Backups implements JobListener {
    /** QEMU's BACKUP_CLUSTER_SIZE_DEFAULT: the copy granularity. */
    public static final long CLUSTER_SIZE = 64 * 1024;

    private final JobEngine engine;
    private final BlockGraph graph;
    private final BlockJobErrors.Reporter reporter;
    /** Live backup jobs by id; written on the main loop and by this listener, read by any thread. */
    private final Map<String, BackupJob> jobs = new ConcurrentHashMap<>();

    public Backups(JobEngine engine, BlockGraph graph, BlockJobErrors.Reporter reporter) {
        this.engine = Objects.requireNonNull(engine);
        this.graph = Objects.requireNonNull(graph);
        this.reporter = Objects.requireNonNull(reporter);
    }

    /** The live backup job's driver with this id, if any. */
    public Optional<BackupJob> driver(String id) {
        return Optional.ofNullable(jobs.get(id));
    }

    /**
     * Creates a backup job without starting it (CREATED): the point in time is now; the filter
     * is above the source when this returns. {@code engine.start(job)} starts the copy,
     * {@code engine.cancel(id, true)} undoes it all.
     *
     * @param filterNodeName the filter's name, or null for a generated one
     * @throws BackupRefusedException with QEMU's text (also the engine's refusal of the job id);
     *                                nothing changed then
     */
    public Job create(String jobId, BlockNode source, BlockNode target, BackupOptions opts, JobOptions jobOpts,
            String filterNodeName) {
        if (source == target) {
            throw new BackupRefusedException("Source and target cannot be the same");
        }
        if (opts.compress() && !target.supportsCompressedWrites()) {
            // QEMU names the target's device: none for a node added with blockdev-add
            throw new BackupRefusedException("Compression is not supported for this drive " + deviceName(target));
        }
        checkNotBusy(source);
        checkNotBusy(target);
        if (opts.perf().maxWorkers() < 1 || opts.perf().maxWorkers() > Integer.MAX_VALUE) {
            throw new BackupRefusedException("max-workers must be between 1 and " + Integer.MAX_VALUE);
        }
        if (opts.perf().maxChunk() < 0) {
            throw new BackupRefusedException("max-chunk must be zero (which means no limit) or positive");
        }
        if (opts.bitmap() != null && opts.bitmapMode() != BitmapSyncMode.NEVER) {
            check(opts.bitmap(), DirtyBitmap.Use.MODIFY); // the end writes to it
        }
        String filterName = checkFilterName(filterNodeName);
        long size = length(source);
        if (length(target) != size) {
            throw new BackupRefusedException("Source and target image have different sizes");
        }
        SyncBitmap sync = opts.bitmap() == null ? null : SyncBitmap.freeze(source, opts.bitmap());
        BackupFilterNode filter = new BackupFilterNode(filterName, source, target);
        // compressed writes cover whole target clusters: copy in units of them when they are larger
        long cluster = opts.compress() ? Math.max(CLUSTER_SIZE, target.compressedWriteCluster()) : CLUSTER_SIZE;
        BlockCopy copy = new BlockCopy(filter.fileEdge(), filter.targetEdge(), size, cluster, opts.discardSource(),
                opts.compress());
        if (opts.sync() == MirrorSyncMode.BITMAP) {
            SyncBitmap.merge(opts.bitmap(), copy.toCopy());
        } else {
            copy.toCopy().setDirty(0, size);
        }
        BackupJob driver = new BackupJob(jobId, graph, source, target, filter, copy, opts, sync, reporter);
        Job job;
        try {
            job = engine.create(jobId, BackupJob.KIND, driver, jobOpts);
        } catch (RuntimeException e) {
            if (sync != null) {
                sync.reclaim();
            }
            BlockGraph.discardUnregistered(List.of(filter));
            throw e instanceof JobException je ? new BackupRefusedException(je.getMessage(), je) : e;
        }
        jobs.put(jobId, driver);
        filter.attach(copy);
        // Cannot fail: the name was checked and the filter is new. From here on guest writes copy first.
        graph.addInternalNode(filter);
        graph.replaceNode(source, filter);
        return job;
    }

    /** @throws BackupRefusedException "Node 'X' is busy: ..." when a backup already reads or writes {@code node} */
    private void checkNotBusy(BlockNode node) {
        if (jobs.values().stream().anyMatch(j -> j.target() == node || j.source() == node || j.filter() == node)) {
            throw new BackupRefusedException("Node '" + node.nodeName()
                    + "' is busy: block device is in use by block job: backup");
        }
    }

    private String checkFilterName(String name) {
        if (name == null) {
            return NodeNames.generate();
        }
        if (!NodeNames.wellFormed(name) || name.length() > NodeNames.MAX_LENGTH) {
            throw new BackupRefusedException("Invalid node-name: '" + name + "'");
        }
        try {
            graph.checkNameFree(name);
        } catch (QmpException e) {
            throw new BackupRefusedException(e.getMessage(), e);
        }
        return name;
    }

    private static long length(BlockNode n) {
        try {
            return n.size();
        } catch (BlockIOException e) {
            throw new BackupRefusedException("Unable to get length for '" + n.nodeName() + "': " + e.getMessage(), e);
        }
    }

    /** QEMU's bdrv_get_device_name: the name of the backend using the node, or "". */
    public static String deviceName(BlockNode node) {
        for (var e : node.parents()) {
            if (e.parentBackend() != null && e.parentBackend().name() != null) {
                return e.parentBackend().name();
            }
        }
        return "";
    }

    /**
     * QEMU's bdrv_dirty_bitmap_check of a backup's bitmap as blockdev-backup makes it first
     * (BDRV_BITMAP_ALLOW_RO: busy, inconsistent).
     *
     * @throws BackupRefusedException QEMU's text, e.g. "Bitmap 'B' is currently in use by another
     *                                operation and cannot be used"
     */
    public static void checkUsable(DirtyBitmap b) {
        check(b, DirtyBitmap.Use.ALLOW_READONLY);
    }

    private static void check(DirtyBitmap b, java.util.Set<DirtyBitmap.Use> refuse) {
        try {
            b.check(refuse);
        } catch (dev.converge.block.bitmap.BitmapException e) {
            throw new BackupRefusedException(e.getMessage(), e);
        }
    }

    /** Forgets a backup job once it is dismissed. */
    @Override
    public void statusChanged(Job job, JobStatus newStatus) {
        if (newStatus == JobStatus.NULL) {
            jobs.remove(job.id());
        }
    }
}
