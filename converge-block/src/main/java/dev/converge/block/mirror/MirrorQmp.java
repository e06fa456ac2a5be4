package dev.converge.block.mirror;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockBackend;
import dev.converge.block.BlockChild;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.NodeNames;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.job.Job;
import dev.converge.job.JobEngine;
import dev.converge.job.JobException;
import dev.converge.job.JobInfo;
import dev.converge.job.JobListener;
import dev.converge.job.JobOptions;
import dev.converge.job.JobStatus;
import dev.converge.job.JobTxn;
import dev.converge.job.qmp.JobQmp;
import dev.converge.job.qmp.TransactionQmp;
import dev.converge.qmp.Args;
import dev.converge.qmp.ErrorClass;
import dev.converge.qmp.EventSink;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.EventSpec;
import dev.converge.qmp.schema.Member;
import dev.converge.qmp.schema.ObjectType;
import dev.converge.qmp.schema.WireEnum;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The QMP binding of the mirror job (QEMU's blockdev.c and blockjob.c for these): blockdev-mirror;
 * the legacy block-job commands on the same engine (query-block-jobs, block-job-set-speed,
 * -pause, -resume, -cancel, -complete, -finalize, -dismiss); the events BLOCK_JOB_READY,
 * BLOCK_JOB_COMPLETED, BLOCK_JOB_CANCELLED, BLOCK_JOB_ERROR and BLOCK_JOB_PENDING; and the job
 * type {@code mirror} with its job-change and query-jobs members.
 *
 * <h2>Event order (as qemu-storage-daemon 7.2, pinned by MirrorQmpTest)</h2>
 * JOB_STATUS_CHANGE ready, then BLOCK_JOB_READY; JOB_STATUS_CHANGE pending, then
 * BLOCK_JOB_PENDING (only without auto-finalize); BLOCK_JOB_COMPLETED or BLOCK_JOB_CANCELLED
 * after commit/abort and before JOB_STATUS_CHANGE concluded; BLOCK_JOB_ERROR before the
 * JOB_STATUS_CHANGE paused that a stop causes. The block events come from a {@link JobListener}
 * registered after {@link JobQmp}'s, so for one change the generic event always comes first.
 * <p>
 * Handlers run on the main loop, as the block graph and the engine require.
 */
public final class MirrorQmp implements JobListener {
    static final String SINCE = "0.1";
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
    /** The job type, as QEMU's JobType value. */
    public static final String TYPE = MirrorJob.KIND.type();

    static final EnumType ON_ERROR = EnumType.of("BlockdevOnError", BlockdevOnError.class, BlockdevOnError::wireName,
            "An action to take on an I/O error: report, ignore, enospc (stop on ENOSPC, else report), stop, auto");
    static final WireEnum<MirrorCopyMode> COPY_MODE = WireEnum.of("MirrorCopyMode", MirrorCopyMode.class,
            MirrorCopyMode::wireName,
            "background: new writes are copied later; write-blocking: new writes are written to the target "
                    + "before they complete");
    static final EnumType SYNC = EnumType.of("MirrorSyncMode", MirrorSyncMode.class, MirrorSyncMode::wireName,
            "What to copy: full (the whole disk), top (same as full: no backing chains), none (only new writes); "
                    + "incremental and bitmap are refused");
    static final EnumType ACTION = EnumType.of("BlockErrorAction", BlockErrorAction.class,
            BlockErrorAction::wireName, "What was done about an I/O error");
    static final EnumType IO_OP = new EnumType("IoOperationType", List.of("read", "write"),
            "read: an error reading the source; write: an error writing the target");

    /** The arguments of blockdev-mirror; also the data of the {@code blockdev-mirror} transaction action. */
    static final ObjectType BLOCKDEV_MIRROR_ARGS = CommandSpec.args("blockdev-mirror",
            optional("job-id", BuiltinType.STR, "the job id; default the device name of the source's user "
                    + "(a node added by blockdev-add has none: 'Invalid job ID ''')"),
            required("device", BuiltinType.STR, "the source: a root node (or device) name"),
            required("target", BuiltinType.STR, "the target node, of the source's size"),
            optional("replaces", BuiltinType.STR, "the node to replace at completion; only the source itself"),
            required("sync", SYNC, "what to copy"),
            optional("speed", BuiltinType.INT, "speed limit in bytes per second; default 0 (unlimited)"),
            optional("granularity", BuiltinType.UINT32,
                    "bytes per dirty-bitmap bit: a power of 2 in [512B, 64MB]; default 64 KiB"),
            optional("buf-size", BuiltinType.INT, "most bytes in flight; default 16 MiB"),
            optional("on-source-error", ON_ERROR, "policy for source read errors; default report"),
            optional("on-target-error", ON_ERROR, "policy for target write errors; default report"),
            optional("filter-node-name", BuiltinType.STR, "the name of the mirror_top filter; default generated"),
            optional("copy-mode", COPY_MODE.type(), "default background"),
            optional("auto-finalize", BuiltinType.BOOL, "default true"),
            optional("auto-dismiss", BuiltinType.BOOL, "default true"),
            optional("unmap", BuiltinType.BOOL, "write zero ranges with unmap on the target; default true"));

    private final EventSink events;
    private final JobEngine engine;
    private final JobQmp jobQmp;
    private final BlockGraph graph;
    /** Live mirror jobs by id; written on the main loop, read by listeners on any thread. */
    private final Map<String, MirrorJob> jobs = new ConcurrentHashMap<>();

    private MirrorQmp(EventSink events, JobEngine engine, JobQmp jobQmp, BlockGraph graph) {
        this.events = Objects.requireNonNull(events);
        this.engine = Objects.requireNonNull(engine);
        this.jobQmp = Objects.requireNonNull(jobQmp);
        this.graph = Objects.requireNonNull(graph);
    }

    /**
     * Registers the mirror commands, events and job type. Call once at wiring time, after
     * {@code jobQmp.register()} (so JOB_STATUS_CHANGE comes before the block event of the
     * same change) and after BlockQmp's registration.
     */
    public static MirrorQmp register(QmpRegistry registry, EventSink events, JobEngine engine, JobQmp jobQmp,
            BlockGraph graph) {
        MirrorQmp m = new MirrorQmp(events, engine, jobQmp, graph);
        m.registerAll(registry);
        engine.addListener(m);
        return m;
    }

    private void registerAll(QmpRegistry r) {
        jobQmp.registerJobKind(MirrorJob.KIND, COPY_MODE);
        r.register(new CommandSpec("blockdev-mirror", BLOCKDEV_MIRROR_ARGS,
                CommandSpec.EMPTY,
                "Start a mirror job from a node to another node. Errors as QEMU's: 'Cannot find device=...', "
                        + "'Need a root block node', 'Can't mirror node into itself', 'Node 'T' is busy: ...', "
                        + "granularity and buf-size errors, 'Invalid job ID', 'Job ID 'X' already in use'. A "
                        + "target of another size fails the started job ('Source and target image have different "
                        + "sizes').",
                SINCE, this::blockdevMirror));
        ObjectType blockJobInfo = ObjectType.struct("BlockJobInfo", "Information about a block job.",
                required("type", BuiltinType.STR, "the job type"),
                required("device", BuiltinType.STR, "the job id"),
                required("len", BuiltinType.INT, "estimated total progress (bytes)"),
                required("offset", BuiltinType.INT, "progress made (bytes)"),
                required("busy", BuiltinType.BOOL, "whether the job is doing work now"),
                required("paused", BuiltinType.BOOL, "whether the job is paused"),
                required("speed", BuiltinType.INT, "speed limit, bytes per second"),
                required("io-status", new EnumType("BlockDeviceIoStatus", List.of("ok", "failed", "nospace"),
                        "I/O status of a job stopped by an error"), "ok, or why the job stopped"),
                required("ready", BuiltinType.BOOL, "whether job-complete is accepted"),
                required("status", BuiltinType.STR, "the job status"),
                required("auto-finalize", BuiltinType.BOOL, "the job finalizes itself"),
                required("auto-dismiss", BuiltinType.BOOL, "the job dismisses itself"),
                optional("error", BuiltinType.STR, "the job's error, human-readable"));
        r.register(new CommandSpec("query-block-jobs", CommandSpec.EMPTY, new ArrayType(blockJobInfo),
                "Information about all block jobs, in creation order.", SINCE, args -> queryBlockJobs()));
        r.register(legacy("block-job-set-speed", "Set the job's speed limit (bytes per second, 0 = unlimited).",
                List.of(required("device", BuiltinType.STR, "the job id"),
                        required("speed", BuiltinType.INT, "bytes per second")),
                a -> engine.setSpeed(blockJob(a.str("device")), a.integer("speed"))));
        r.register(legacy("block-job-pause", "Pause the job.", List.of(required("device", BuiltinType.STR, "the job id")),
                a -> engine.pause(blockJob(a.str("device")))));
        r.register(legacy("block-job-resume", "Resume the job.",
                List.of(required("device", BuiltinType.STR, "the job id")),
                a -> engine.resume(blockJob(a.str("device")))));
        r.register(legacy("block-job-cancel",
                "Cancel the job. Without force a ready mirror finishes with a consistent copy and no pivot.",
                List.of(required("device", BuiltinType.STR, "the job id"),
                        optional("force", BuiltinType.BOOL, "abort even a ready mirror; default false")),
                this::blockJobCancel));
        r.register(legacy("block-job-complete", "Complete a ready job: the mirror pivots to its target.",
                List.of(required("device", BuiltinType.STR, "the job id")),
                a -> engine.complete(blockJob(a.str("device")))));
        r.register(legacy("block-job-finalize", "Finalize a pending job.",
                List.of(required("id", BuiltinType.STR, "the job id")),
                a -> engine.finalizeJob(blockJob(a.str("id")))));
        r.register(legacy("block-job-dismiss", "Dismiss a concluded job.",
                List.of(required("id", BuiltinType.STR, "the job id")),
                a -> engine.dismiss(blockJob(a.str("id")))));
        ObjectType progress = ObjectType.struct("q_obj_BLOCK_JOB_COMPLETED-arg", null,
                required("type", BuiltinType.STR, "job type"), required("device", BuiltinType.STR, "job id"),
                required("len", BuiltinType.INT, "total progress"), required("offset", BuiltinType.INT, "progress"),
                required("speed", BuiltinType.INT, "speed limit"),
                optional("error", BuiltinType.STR, "the error, when the job failed"));
        r.register(new EventSpec("BLOCK_JOB_COMPLETED", progress,
                "The block job ended (with error when it failed); a force-cancelled job sends BLOCK_JOB_CANCELLED.",
                SINCE));
        r.register(new EventSpec("BLOCK_JOB_CANCELLED", progress, "The block job was cancelled.", SINCE));
        r.register(new EventSpec("BLOCK_JOB_READY", progress, "The block job is ready for job-complete.", SINCE));
        r.register(new EventSpec("BLOCK_JOB_PENDING", ObjectType.struct("q_obj_BLOCK_JOB_PENDING-arg", null,
                required("type", BuiltinType.STR, "job type"), required("id", BuiltinType.STR, "job id")),
                "The block job waits for block-job-finalize (auto-finalize false).", SINCE));
        r.register(new EventSpec("BLOCK_JOB_ERROR", ObjectType.struct("q_obj_BLOCK_JOB_ERROR-arg", null,
                required("device", BuiltinType.STR, "job id"),
                required("operation", IO_OP, "read (source) or write (target)"),
                required("action", ACTION, "what the job did about it")),
                "A block job met an I/O error.", SINCE));
    }

    private interface LegacyVerb {
        void apply(Args args);
    }

    private static CommandSpec legacy(String name, String doc, List<Member> members, LegacyVerb verb) {
        return new CommandSpec(name, CommandSpec.args(name, members.toArray(Member[]::new)), CommandSpec.EMPTY,
                doc + " Errors: 'Block job 'X' not found' (DeviceNotActive), the verb refused in this state.", SINCE,
                args -> {
                    mapped(() -> {
                        verb.apply(args);
                        return null;
                    });
                    return null;
                });
    }

    /** The id of a live block job, or QEMU's "Block job 'X' not found" (DeviceNotActive). */
    private String blockJob(String id) {
        if (!jobs.containsKey(id) || engine.find(id).isEmpty()) {
            throw new QmpException(ErrorClass.DeviceNotActive, "Block job '" + id + "' not found");
        }
        return id;
    }

    private void blockJobCancel(Args a) {
        String id = blockJob(a.str("device"));
        boolean force = a.bool("force", false);
        JobStatus s = engine.get(id).status();
        if (!force && (s == JobStatus.PAUSED || s == JobStatus.STANDBY)) {
            throw QmpException.generic("The block job for device '%s' is currently paused", id);
        }
        if (!force && s == JobStatus.READY) {
            Optional<String> owner = jointOwner(engine.get(id));
            if (owner.isPresent()) {
                throw QmpException.generic("%s: cancel it with force=true, which aborts the transaction", owner.get());
            }
        }
        engine.cancel(id, force);
    }

    private static <T> T mapped(Supplier<T> s) {
        try {
            return s.get();
        } catch (JobException e) {
            throw JobQmp.toQmp(e);
        }
    }

    // ---------------------------------------------------------------- blockdev-mirror

    private JsonNode blockdevMirror(Args a) {
        engine.start(create(a, null));
        return null;
    }

    /**
     * Registers the {@code blockdev-mirror} action of QMP {@code transaction}; its data is
     * blockdev-mirror's arguments, validated by the same schema. Prepare does every check
     * blockdev-mirror does and creates the job (CREATED, filter inserted, bitmap on the source)
     * in the transaction's job transaction; commit starts it; abort cancels it while it is
     * still CREATED (it then vanishes and its filter, bitmap and target user go with it).
     * Call once at wiring time, after {@code transactions.register()}.
     */
    public void registerTransactionAction(TransactionQmp transactions) {
        transactions.registerAction("blockdev-mirror", BLOCKDEV_MIRROR_ARGS, (data, txn) -> {
            Job job = create(new Args(data), txn);
            return new TransactionQmp.Prepared() {
                @Override
                public void commit() {
                    engine.start(job);
                }

                @Override
                public void abort() {
                    // A partner's abort may have ended this job already (its transaction aborted).
                    if (engine.find(job.id()).orElse(null) == job && job.status() == JobStatus.CREATED) {
                        engine.cancel(job.id(), true);
                    }
                }
            };
        });
    }

    /** blockdev-mirror's checks, then {@link #create}; the job joins {@code txn} (null: its own). */
    private Job create(Args a, JobTxn txn) {
        BlockNode source = graph.lookup(a.str("device"));
        for (BlockChild e : source.parents()) {
            if (e.parentNode() != null) {
                throw QmpException.generic("Need a root block node");
            }
        }
        BlockNode target = graph.lookup(a.str("target"));
        MirrorSyncMode sync = MirrorSyncMode.fromWire(a.str("sync"));
        if (sync == null) {
            throw QmpException.generic("Parameter 'sync' does not accept value '%s'", a.str("sync"));
        }
        if (sync == MirrorSyncMode.INCREMENTAL || sync == MirrorSyncMode.BITMAP) {
            throw QmpException.generic("Sync mode '%s' not supported", sync.wireName());
        }
        if (jobs.values().stream().anyMatch(j -> j.target() == target || j.source() == target)) {
            throw QmpException.generic("Node '%s' is busy: block device is in use by block job: mirror",
                    target.nodeName());
        }
        if (a.has("replaces")) {
            String r = a.str("replaces");
            BlockNode rn = graph.find(r).orElseThrow(
                    () -> QmpException.generic("Failed to find node with node-name='%s'", r));
            if (rn != source) {
                throw QmpException.generic("Cannot replace '%s' by a node mirrored from '%s', because it cannot be "
                        + "guaranteed that doing so would not lead to an abrupt change of visible data", r,
                        source.nodeName());
            }
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
        if (source == target) {
            throw QmpException.generic("Can't mirror node into itself");
        }
        if (granularity == 0) {
            granularity = MirrorOptions.DEFAULT_GRANULARITY;
        }
        if (bufSize == 0) {
            bufSize = MirrorOptions.DEFAULT_BUF_SIZE;
        }
        bufSize = Math.ceilDiv(bufSize, granularity) * granularity;
        MirrorOptions opts = new MirrorOptions(sync, granularity, bufSize,
                BlockdevOnError.fromWire(a.str("on-source-error", "report")),
                BlockdevOnError.fromWire(a.str("on-target-error", "report")),
                MirrorCopyMode.fromWire(a.str("copy-mode", "background")), a.bool("unmap", true));
        String jobId = a.optStr("job-id").orElseGet(() -> deviceName(source));
        JobOptions jobOpts = JobOptions.defaults().withAutoFinalize(a.bool("auto-finalize", true))
                .withAutoDismiss(a.bool("auto-dismiss", true)).withSpeed(a.integer("speed", 0)).withTxn(txn);
        return create(jobId, source, target, opts, jobOpts, a.optStr("filter-node-name").orElse(null));
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
     * Starts a mirror job (blockdev-mirror after its argument checks; also for Java callers such
     * as a transaction with a migration). Main loop. The dirty bitmap is on the source before
     * the job starts; the filter is above the source when this returns.
     *
     * @param filterNodeName the filter's name, or null for a generated one
     * @throws QmpException with QEMU's text; nothing changed then
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
     * the copy, {@code engine.cancel(id, true)} undoes it all. Main loop. A job created in a
     * transaction with a job of another type (a migration) leaves its completion to that job's
     * switchover (see {@link #jointOwner}).
     *
     * @throws QmpException with QEMU's text; nothing changed then
     */
    public Job create(String jobId, BlockNode source, BlockNode target, MirrorOptions opts, JobOptions jobOpts,
            String filterNodeName) {
        String filterName = filterNodeName;
        if (filterName != null) {
            if (!NodeNames.wellFormed(filterName) || filterName.length() > NodeNames.MAX_LENGTH) {
                throw QmpException.generic("Invalid node-name: '%s'", filterName);
            }
            graph.checkNameFree(filterName);
        } else {
            filterName = NodeNames.generate();
        }
        long size;
        try {
            size = source.size();
        } catch (BlockIOException e) {
            throw QmpException.generic("Unable to get length for '%s': %s", source.nodeName(), e.getMessage());
        }
        if (size / opts.granularity() >= Integer.MAX_VALUE) {
            throw QmpException.generic("Parameter 'granularity' is too small for a disk of %d bytes", size);
        }
        DirtyBitmap bitmap;
        try {
            bitmap = source.addDirtyBitmap(null, opts.granularity());
        } catch (BlockIOException e) {
            throw QmpException.generic("Unable to get length for '%s': %s", source.nodeName(), e.getMessage());
        }
        bitmap.setBusy(true);
        if (opts.sync().copiesExistingData()) {
            // Before the filter exists: a write-blocking guest write decides from the bitmap whether
            // the partly written granules were clean, so the whole disk must be dirty before the
            // first such write, or a granule it touches would count as copied while only the
            // written part reached the target.
            bitmap.setDirty(0, size);
        }
        MirrorFilterNode filter = new MirrorFilterNode(filterName, source);
        BlockBackend targetUser = graph.attachBackend(null, target);
        MirrorJob driver = new MirrorJob(jobId, graph, source, target, filter, targetUser, bitmap, opts,
                this::onError);
        Job job;
        try {
            job = engine.create(jobId, MirrorJob.KIND, driver, jobOpts);
        } catch (RuntimeException e) {
            filter.attach(null);
            source.removeDirtyBitmap(bitmap);
            graph.detachBackend(targetUser);
            BlockGraph.discardUnregistered(List.of(filter));
            throw e instanceof JobException je ? JobQmp.toQmp(je) : e;
        }
        jobs.put(jobId, driver);
        // Cannot fail: the name was checked, the filter is new and the source has no parent node.
        graph.addInternalNode(filter);
        graph.replaceNode(source, filter);
        return job;
    }

    /**
     * Why the user may not soft-cancel this mirror: it is a participant of a grouped switchover
     * (a migration's), which finishes it while the guest is stopped (the engine refuses its
     * job-complete for the same reason, see JobEngine#complete). Empty when the user may. Main loop.
     */
    private Optional<String> jointOwner(Job job) {
        return engine.switchoverLeader(job).map(leader -> JobEngine.completedByLeader(job, leader));
    }

    // ---------------------------------------------------------------- errors

    /** From an I/O thread: announce on the main loop; for a stop, pause the job as a user pause. */
    private CompletableFuture<Void> onError(MirrorJob job, boolean read, BlockErrorAction action) {
        return graph.mainLoop().submit(() -> {
            ObjectNode d = JSON.objectNode();
            d.put("device", job.id());
            d.put("operation", read ? "read" : "write");
            d.put("action", action.wireName());
            events.emit("BLOCK_JOB_ERROR", d);
            if (action == BlockErrorAction.STOP) {
                try {
                    engine.pause(job.id());
                } catch (JobException e) {
                    // already paused by the user, or ending: QEMU pauses only when not user-paused
                }
            }
            return null;
        });
    }

    // ---------------------------------------------------------------- query-block-jobs and events

    private JsonNode queryBlockJobs() {
        ArrayNode out = JSON.arrayNode();
        for (Job j : engine.jobs()) {
            MirrorJob m = jobs.get(j.id());
            if (m == null) {
                continue;
            }
            JobInfo info = engine.query(j);
            JobStatus s = info.status();
            ObjectNode o = out.addObject();
            o.put("type", j.type());
            o.put("device", j.id());
            o.put("len", info.totalProgress());
            o.put("offset", info.currentProgress());
            o.put("busy", m.isBusy() && (s == JobStatus.RUNNING || s == JobStatus.READY));
            o.put("paused", s == JobStatus.PAUSED || s == JobStatus.STANDBY);
            o.put("speed", j.speed());
            o.put("io-status", m.ioStatus());
            o.put("ready", s == JobStatus.READY || s == JobStatus.STANDBY);
            o.put("status", s.wireName());
            o.put("auto-finalize", j.autoFinalize());
            o.put("auto-dismiss", j.autoDismiss());
            info.error().ifPresent(e -> o.put("error", e));
        }
        return out;
    }

    private ObjectNode progressData(Job job) {
        JobInfo info = engine.query(job);
        ObjectNode d = JSON.objectNode();
        d.put("device", job.id());
        d.put("len", info.totalProgress());
        d.put("offset", info.currentProgress());
        d.put("speed", job.speed());
        d.put("type", job.type());
        return d;
    }

    @Override
    public void statusChanged(Job job, JobStatus newStatus) {
        if (!jobs.containsKey(job.id())) {
            return;
        }
        if (newStatus == JobStatus.PENDING && !job.autoFinalize()) {
            ObjectNode d = JSON.objectNode();
            d.put("type", job.type());
            d.put("id", job.id());
            events.emit("BLOCK_JOB_PENDING", d);
        } else if (newStatus == JobStatus.NULL) {
            jobs.remove(job.id());
        }
    }

    @Override
    public void ready(Job job) {
        if (jobs.containsKey(job.id())) {
            events.emit("BLOCK_JOB_READY", progressData(job));
        }
    }

    @Override
    public void finalized(Job job) {
        if (!jobs.containsKey(job.id()) || !job.wasStarted()) {
            return;
        }
        ObjectNode d = progressData(job);
        if (job.isCancelled()) {
            events.emit("BLOCK_JOB_CANCELLED", d);
        } else {
            job.error().ifPresent(e -> d.put("error", e));
            events.emit("BLOCK_JOB_COMPLETED", d);
        }
    }

    /** The live mirror job's driver with this id, if any (tests, diagnostics). */
    public Optional<MirrorJob> driver(String id) {
        return Optional.ofNullable(jobs.get(id));
    }
}
