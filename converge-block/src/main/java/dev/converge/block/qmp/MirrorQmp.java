package dev.converge.block.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.block.BlockChild;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockJobs;
import dev.converge.block.BlockNode;
import dev.converge.block.mirror.BlockdevOnError;
import dev.converge.block.mirror.MirrorCopyMode;
import dev.converge.block.mirror.MirrorJob;
import dev.converge.block.mirror.MirrorOptions;
import dev.converge.block.mirror.MirrorRefusedException;
import dev.converge.block.mirror.MirrorSyncMode;
import dev.converge.block.mirror.Mirrors;
import dev.converge.job.Job;
import dev.converge.job.JobEngine;
import dev.converge.job.JobOptions;
import dev.converge.job.JobTxn;
import dev.converge.job.qmp.JobQmp;
import dev.converge.job.qmp.TransactionQmp;
import dev.converge.qmp.Args;
import dev.converge.qmp.EventSink;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.CommandSpec;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The QMP binding of the mirror (QEMU's blockdev.c and blockjob.c for these): it wires the
 * parts and owns blockdev-mirror itself, which decodes the arguments and hands the domain act
 * ({@link Mirrors}) its nodes and options, translating a {@link MirrorRefusedException} into a
 * GenericError with the same text. The other parts: the types ({@link MirrorSchema}), the
 * legacy block-job commands ({@link BlockJobQmp}), the BLOCK_JOB_* events
 * ({@link BlockJobEvents}), the transaction action ({@link BlockJobTransactionAction}), and the
 * job kind {@code mirror} ({@link MirrorJob#KIND}, its job-change and query-jobs members derived
 * by JobQmp). Handlers run on the main loop, as the block graph and the engine require.
 */
public final class MirrorQmp {
    /** The job type, as QEMU's JobType value. */
    public static final String TYPE = MirrorJob.KIND.type();

    private final JobEngine engine;
    private final BlockGraph graph;
    private final Mirrors mirrors;

    private final BlockJobs blockJobs;
    private final BlockJobEvents blockEvents;

    private MirrorQmp(JobEngine engine, BlockGraph graph, Mirrors mirrors, BlockJobs blockJobs,
            BlockJobEvents blockEvents) {
        this.engine = Objects.requireNonNull(engine);
        this.graph = Objects.requireNonNull(graph);
        this.mirrors = Objects.requireNonNull(mirrors);
        this.blockJobs = Objects.requireNonNull(blockJobs);
        this.blockEvents = Objects.requireNonNull(blockEvents);
    }

    /** The live block jobs of every kind (other block job kinds add their registries here). */
    public BlockJobs blockJobs() {
        return blockJobs;
    }

    /** The BLOCK_JOB_* events, also for the other block job kinds' I/O errors. */
    public BlockJobEvents blockEvents() {
        return blockEvents;
    }

    /** The mirrors (active commit runs as a mirror onto the base). */
    public Mirrors mirrors() {
        return mirrors;
    }

    /**
     * Registers the mirror commands, events and job kind. Call once at wiring time, after
     * {@code jobQmp.register()} (so JOB_STATUS_CHANGE comes before the block event of the
     * same change) and after BlockQmp's registration.
     */
    public static MirrorQmp register(QmpRegistry registry, EventSink events, JobEngine engine, JobQmp jobQmp,
            BlockGraph graph) {
        BlockJobs blockJobs = new BlockJobs();
        BlockJobEvents blockEvents = new BlockJobEvents(events, engine, graph, blockJobs);
        Mirrors mirrors = new Mirrors(engine, graph, blockEvents);
        blockJobs.addSource(mirrors::driver);
        MirrorQmp m = new MirrorQmp(engine, graph, mirrors, blockJobs, blockEvents);
        jobQmp.registerJobKind(MirrorJob.KIND, MirrorSchema.COPY_MODE);
        registry.register(new CommandSpec("blockdev-mirror", MirrorSchema.BLOCKDEV_MIRROR_ARGS,
                CommandSpec.EMPTY,
                "Start a mirror job from a node to another node. Errors as QEMU's: 'Cannot find device=...', "
                        + "'Need a root block node', 'Can't mirror node into itself', 'Node 'T' is busy: ...', "
                        + "granularity and buf-size errors, 'Invalid job ID', 'Job ID 'X' already in use'. A "
                        + "target of another size fails the started job ('Source and target image have different "
                        + "sizes').",
                MirrorSchema.SINCE, m::blockdevMirror));
        new BlockJobQmp(engine, blockJobs).register(registry);
        MirrorSchema.EVENTS.forEach(registry::register);
        engine.addListener(blockEvents);
        engine.addListener(mirrors);
        return m;
    }

    /**
     * Registers the {@code blockdev-mirror} action of QMP {@code transaction} (see
     * {@link BlockJobTransactionAction}). Call once at wiring time, after {@code transactions.register()}.
     */
    public void registerTransactionAction(TransactionQmp transactions) {
        transactions.registerAction("blockdev-mirror", MirrorSchema.BLOCKDEV_MIRROR_ARGS,
                new BlockJobTransactionAction(engine, this::create));
    }

    private JsonNode blockdevMirror(Args a) {
        engine.start(create(a, null));
        return null;
    }

    /**
     * blockdev-mirror's arguments decoded and checked in QEMU's order (the domain's checks
     * interleaved with the argument checks, so the first error is QEMU's), then the job created
     * in {@code txn} (null: its own), not started.
     */
    Job create(Args a, JobTxn txn) {
        BlockNode source = graph.lookup(a.str("device"));
        translated(() -> mirrors.checkRoot(source));
        BlockNode target = graph.lookup(a.str("target"));
        MirrorSyncMode sync = MirrorSyncMode.fromWire(a.str("sync"));
        if (sync == null) {
            throw QmpException.generic("Parameter 'sync' does not accept value '%s'", a.str("sync"));
        }
        if (sync == MirrorSyncMode.INCREMENTAL || sync == MirrorSyncMode.BITMAP) {
            throw QmpException.generic("Sync mode '%s' not supported", sync.wireName());
        }
        translated(() -> mirrors.checkNotBusy(target));
        if (a.has("replaces")) {
            translated(() -> mirrors.checkReplaces(source, a.str("replaces")));
        }
        long granularity = a.integer("granularity", 0);
        if (granularity != 0 && (granularity < MirrorOptions.MIN_GRANULARITY
                || granularity > MirrorOptions.MAX_GRANULARITY)) {
            throw QmpException.generic("Parameter 'granularity' expects a value in range [512B, 64MB]");
        }
        if (Long.bitCount(granularity) > 1) {
            throw QmpException.generic("Parameter 'granularity' expects a power of 2");
        }
        long bufSize = a.integer("buf-size", 0);
        if (bufSize < 0) {
            throw QmpException.generic("Invalid parameter 'buf-size'");
        }
        translated(() -> mirrors.checkDistinct(source, target));
        MirrorOptions d = MirrorSchema.DEFAULTS;
        if (granularity == 0) {
            granularity = d.granularity();
        }
        if (bufSize == 0) {
            bufSize = d.bufSize();
        }
        bufSize = Math.ceilDiv(bufSize, granularity) * granularity;
        MirrorOptions opts = new MirrorOptions(sync, granularity, bufSize,
                BlockdevOnError.fromWire(a.str("on-source-error", d.onSourceError().wireName())),
                BlockdevOnError.fromWire(a.str("on-target-error", d.onTargetError().wireName())),
                MirrorCopyMode.fromWire(a.str("copy-mode", d.copyMode().wireName())), a.bool("unmap", d.unmap()));
        String jobId = a.optStr("job-id").orElseGet(() -> deviceName(source));
        JobOptions j = MirrorSchema.JOB_DEFAULTS;
        JobOptions jobOpts = j.withAutoFinalize(a.bool("auto-finalize", j.autoFinalize()))
                .withAutoDismiss(a.bool("auto-dismiss", j.autoDismiss())).withSpeed(a.integer("speed", j.speed()))
                .withTxn(txn);
        String filter = a.optStr("filter-node-name").orElse(null);
        return translated(() -> mirrors.create(jobId, source, target, opts, jobOpts, filter));
    }

    /** QEMU's bdrv_get_device_name: the name of the backend using the node, or "". */
    private static String deviceName(BlockNode node) {
        for (BlockChild e : node.parents()) {
            if (e.parentBackend() != null && e.parentBackend().name() != null) {
                return e.parentBackend().name();
            }
        }
        return "";
    }

    /**
     * Starts a mirror job for Java callers (the domain act, {@link Mirrors#start}), its refusal
     * as a QMP error. Main loop.
     */
    public Job start(String jobId, BlockNode source, BlockNode target, MirrorOptions opts, JobOptions jobOpts,
            String filterNodeName) {
        return translated(() -> mirrors.start(jobId, source, target, opts, jobOpts, filterNodeName));
    }

    /** Creates a mirror job without starting it ({@link Mirrors#create}), its refusal as a QMP error. Main loop. */
    public Job create(String jobId, BlockNode source, BlockNode target, MirrorOptions opts, JobOptions jobOpts,
            String filterNodeName) {
        return translated(() -> mirrors.create(jobId, source, target, opts, jobOpts, filterNodeName));
    }

    /** The live mirror job's driver with this id, if any (tests, diagnostics). */
    public Optional<MirrorJob> driver(String id) {
        return mirrors.driver(id);
    }

    /** The one translation: a domain refusal is a GenericError with the same text. */
    private static <T> T translated(Supplier<T> act) {
        try {
            return act.get();
        } catch (MirrorRefusedException e) {
            throw QmpException.generic(e.getMessage());
        }
    }

    private static void translated(Runnable act) {
        translated(() -> {
            act.run();
            return null;
        });
    }
}
