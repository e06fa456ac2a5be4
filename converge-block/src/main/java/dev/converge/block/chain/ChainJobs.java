package dev.converge.block.chain;

import dev.converge.block.BackingChain;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.DrainedSection;
import dev.converge.block.mirror.BlockdevOnError;
import dev.converge.block.mirror.MirrorCopyMode;
import dev.converge.block.mirror.MirrorOptions;
import dev.converge.block.mirror.MirrorRefusedException;
import dev.converge.block.mirror.MirrorSyncMode;
import dev.converge.block.mirror.Mirrors;
import dev.converge.job.Job;
import dev.converge.job.JobEngine;
import dev.converge.job.JobException;
import dev.converge.job.JobKind;
import dev.converge.job.JobListener;
import dev.converge.job.JobOptions;
import dev.converge.job.JobStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The domain act of starting block-stream and block-commit jobs, and their live jobs: the
 * nodes a job works on are claimed (QEMU's op blockers: a second job on them is refused with
 * "Node 'X' is busy: block device is in use by block job: TYPE"), read-only nodes the job must
 * write are made writable for the job's life (and read-only again afterwards), and everything
 * is undone when the engine refuses the job. Knows no QMP: refusals are
 * {@link ChainRefusedException}s with QEMU's texts.
 * <p>
 * Main loop only, as the graph and the engine's verbs; the live-jobs map is also read by
 * listeners on other threads.
 */
public final class ChainJobs implements JobListener {
    /** Protocol drivers: with backing-mask-protocol their name is recorded as "raw". */
    private static final Set<String> PROTOCOLS = Set.of("file", "nbd", "null-co");

    private final JobEngine engine;
    private final BlockGraph graph;
    private final Mirrors mirrors;
    private final ChainCopyJob.ErrorReporter reporter;
    /** Live stream and (intermediate) commit jobs by id. */
    private final Map<String, ChainCopyJob> jobs = new ConcurrentHashMap<>();
    /** Nodes claimed by a live job, with the job's type. */
    private final Map<BlockNode, String> claims = new ConcurrentHashMap<>();
    /** The nodes each live job claimed, by job id (active commits included). */
    private final Map<String, List<BlockNode>> claimedBy = new ConcurrentHashMap<>();

    public ChainJobs(JobEngine engine, BlockGraph graph, Mirrors mirrors, ChainCopyJob.ErrorReporter reporter) {
        this.engine = Objects.requireNonNull(engine);
        this.graph = Objects.requireNonNull(graph);
        this.mirrors = Objects.requireNonNull(mirrors);
        this.reporter = Objects.requireNonNull(reporter);
    }

    /** The live stream or intermediate-commit job with this id (active commits are mirrors). */
    public Optional<ChainCopyJob> driver(String id) {
        return Optional.ofNullable(jobs.get(id));
    }

    /** @throws ChainRefusedException "Node 'X' is busy: block device is in use by block job: TYPE" */
    public void checkNotBusy(BlockNode node) {
        String type = claims.get(node);
        if (type != null) {
            throw new ChainRefusedException("Node '" + node.nodeName() + "' is busy: block device is in use by block "
                    + "job: " + type);
        }
        try {
            mirrors.checkNotBusy(node);
        } catch (MirrorRefusedException e) {
            throw new ChainRefusedException(e.getMessage(), e);
        }
    }

    /** The format name recorded for {@code base} in an overlay (QEMU: the driver's format name). */
    static String formatName(BlockNode base, boolean maskProtocol) {
        String d = base.driverName();
        return maskProtocol && PROTOCOLS.contains(d) ? "raw" : d;
    }

    /**
     * Starts block-stream: {@code top} gets what the chain below it holds above {@code base}
     * (null: the whole chain), then {@code base} as its backing.
     *
     * @param backingFile the name to record, or null for the base's file name
     */
    public Job startStream(String jobId, BlockNode top, BlockNode base, String backingFile, boolean maskProtocol,
            BlockdevOnError onError, JobOptions jobOpts) {
        List<BlockNode> nodes = claimable(top, base, false);
        Runnable restoreTop = makeWritable(top);
        String file = backingFile != null ? backingFile : base == null ? null : base.filename();
        String fmt = base == null ? null : formatName(base, maskProtocol);
        StreamJob driver = new StreamJob(jobId, graph, top, base, file, fmt, onError, reporter,
                () -> release(jobId, restoreTop));
        return startCopy(jobId, StreamJob.KIND, driver, jobOpts, nodes, restoreTop);
    }

    /**
     * Starts block-commit of an intermediate image: {@code base} gets what the chain from
     * {@code top} down to it holds, then {@code overlay} (whose backing is {@code top}) reads
     * through {@code base}.
     *
     * @param backingFile the name to record in the overlay, or null for the base's file name
     */
    public Job startCommit(String jobId, BlockNode top, BlockNode base, BlockNode overlay, String backingFile,
            BlockdevOnError onError, JobOptions jobOpts) {
        List<BlockNode> nodes = claimable(top, base, true);
        growBase(top, base);
        Runnable restoreBase = makeWritable(base);
        Runnable restoreOverlay;
        try {
            restoreOverlay = makeWritable(overlay);
        } catch (ChainRefusedException e) {
            restoreBase.run();
            throw e;
        }
        Runnable restore = () -> {
            restoreOverlay.run();
            restoreBase.run();
        };
        CommitJob driver = new CommitJob(jobId, graph, top, base, overlay,
                backingFile != null ? backingFile : base.filename(), onError, reporter, () -> release(jobId, restore));
        return startCopy(jobId, CommitJob.KIND, driver, jobOpts, nodes, restore);
    }

    /**
     * Starts an active commit: {@code top} is the active layer; a mirror of it onto {@code base}
     * in a job of type {@code commit} ({@link ActiveCommitJob}).
     */
    public Job startActiveCommit(String jobId, BlockNode top, BlockNode base, BlockdevOnError onError,
            JobOptions jobOpts, String filterNodeName) {
        List<BlockNode> nodes = claimable(top, base, true);
        growBase(top, base);
        Runnable restoreBase = makeWritable(base);
        MirrorOptions d = MirrorOptions.defaults();
        MirrorOptions opts = new MirrorOptions(MirrorSyncMode.TOP, d.granularity(), d.bufSize(), onError, onError,
                MirrorCopyMode.BACKGROUND, true);
        Job job;
        try {
            job = mirrors.create(jobId, top, base, opts, jobOpts, filterNodeName, CommitJob.KIND,
                    m -> new ActiveCommitJob(m, restoreBase, () -> release(jobId, () -> {
                    })), base);
        } catch (MirrorRefusedException e) {
            restoreBase.run();
            throw new ChainRefusedException(e.getMessage(), e);
        }
        claim(jobId, CommitJob.KIND.type(), nodes);
        engine.start(job);
        return job;
    }

    /**
     * The nodes from {@code top} down to {@code base} (included with {@code withBase}) that a job
     * will claim, after checking that no job uses them.
     */
    private List<BlockNode> claimable(BlockNode top, BlockNode base, boolean withBase) {
        List<BlockNode> nodes = new ArrayList<>();
        nodes.add(top);
        nodes.addAll(BackingChain.between(top, base));
        if (withBase) {
            nodes.add(base);
        }
        nodes.forEach(this::checkNotBusy);
        return nodes;
    }

    private Job startCopy(String jobId, JobKind<Record, Record> kind, ChainCopyJob driver, JobOptions jobOpts,
            List<BlockNode> nodes, Runnable undo) {
        Job job;
        try {
            job = engine.create(jobId, kind, driver, jobOpts);
        } catch (JobException e) {
            undo.run();
            throw new ChainRefusedException(e.getMessage(), e);
        }
        jobs.put(jobId, driver);
        claim(jobId, kind.type(), nodes);
        engine.start(job);
        return job;
    }

    private void claim(String jobId, String type, List<BlockNode> nodes) {
        nodes.forEach(n -> claims.put(n, type));
        claimedBy.put(jobId, List.copyOf(nodes));
    }

    /**
     * From a job's clean (main loop): gives back the claims and what was made writable. The job
     * stays known until it is dismissed (its BLOCK_JOB_COMPLETED comes after clean).
     */
    private void release(String jobId, Runnable restore) {
        List<BlockNode> nodes = claimedBy.remove(jobId);
        if (nodes != null) {
            nodes.forEach(claims::remove);
        }
        restore.run();
    }

    /**
     * Makes {@code node} writable for a job when it is read-only; returns what gives its mode
     * back (nothing when it was writable already).
     */
    private Runnable makeWritable(BlockNode node) {
        if (!node.readOnly()) {
            return () -> {
            };
        }
        try {
            graph.reopenReadOnly(node, false);
        } catch (BlockIOException e) {
            throw new ChainRefusedException(e.getMessage(), e);
        }
        return () -> {
            try {
                graph.reopenReadOnly(node, true);
            } catch (BlockIOException e) {
                System.getLogger(ChainJobs.class.getName()).log(System.Logger.Level.WARNING,
                        "could not make node '" + node.nodeName() + "' read-only again: " + e.getMessage());
            }
        };
    }

    /** QEMU's commit: a base smaller than the top grows to the top's size first. */
    private void growBase(BlockNode top, BlockNode base) {
        try {
            long need = top.size();
            if (base.size() < need) {
                boolean ro = base.readOnly();
                Runnable restore = makeWritable(base);
                try (DrainedSection d = base.drain()) {
                    base.resize(need);
                } finally {
                    if (ro) {
                        restore.run();
                    }
                }
            }
        } catch (BlockIOException e) {
            throw new ChainRefusedException("Top image " + top.filename() + " is larger than base image "
                    + base.filename() + ", and resize of base image failed: " + e.getMessage(), e);
        }
    }

    /** Forgets a job once it is dismissed. */
    @Override
    public void statusChanged(Job job, JobStatus newStatus) {
        if (newStatus == JobStatus.NULL) {
            jobs.remove(job.id());
        }
    }
}
