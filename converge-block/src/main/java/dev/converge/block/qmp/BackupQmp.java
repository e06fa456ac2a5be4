package dev.converge.block.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.backup.BackupFilterNode;
import dev.converge.block.backup.BackupJob;
import dev.converge.block.backup.BackupOptions;
import dev.converge.block.backup.BackupPerf;
import dev.converge.block.backup.BackupRefusedException;
import dev.converge.block.backup.Backups;
import dev.converge.block.backup.BitmapSyncMode;
import dev.converge.block.backup.SnapshotAccessNode;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.block.driver.BlockDriverPlugin;
import dev.converge.block.mirror.BlockdevOnError;
import dev.converge.block.mirror.MirrorSyncMode;
import dev.converge.job.Job;
import dev.converge.job.JobEngine;
import dev.converge.job.JobOptions;
import dev.converge.job.JobTxn;
import dev.converge.job.qmp.JobQmp;
import dev.converge.job.qmp.TransactionQmp;
import dev.converge.qmp.Args;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.CommandSpec;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The QMP binding of the backup (QEMU 10.0's blockdev.c for blockdev-backup and its transaction
 * action): decodes the arguments, makes QEMU's argument checks in QEMU's order (do_backup_common)
 * and hands the domain act ({@link Backups}) its nodes and options, translating a
 * {@link BackupRefusedException} into a GenericError with the same text. The job kind
 * {@code backup} joins the mirror's legacy layer ({@link dev.converge.block.BlockJobs}: block-job-*,
 * query-block-jobs, BLOCK_JOB_* events) rather than having its own. Also adds the
 * {@code snapshot-access} driver to blockdev-add (fleecing). Handlers run on the main loop.
 */
public final class BackupQmp {
    /** The job type, as QEMU's JobType value. */
    public static final String TYPE = BackupJob.KIND.type();

    private final JobEngine engine;
    private final BlockGraph graph;
    private final Backups backups;

    private BackupQmp(JobEngine engine, BlockGraph graph, Backups backups) {
        this.engine = Objects.requireNonNull(engine);
        this.graph = Objects.requireNonNull(graph);
        this.backups = Objects.requireNonNull(backups);
    }

    /**
     * Registers blockdev-backup, the job kind and the snapshot-access driver. Call once at wiring
     * time, after {@link MirrorQmp#register} (whose legacy layer the backups join) and after
     * BlockQmp's registration.
     */
    public static BackupQmp register(QmpRegistry registry, JobEngine engine, JobQmp jobQmp, BlockGraph graph,
            BlockQmp blockQmp, MirrorQmp mirror) {
        BlockJobEvents blockEvents = mirror.blockEvents();
        Backups backups = new Backups(engine, graph, blockEvents::onError);
        mirror.blockJobs().addSource(backups::driver);
        BackupQmp b = new BackupQmp(engine, graph, backups);
        jobQmp.registerJobKind(BackupJob.KIND);
        registry.register(new CommandSpec("blockdev-backup", BackupSchema.BLOCKDEV_BACKUP_ARGS, CommandSpec.EMPTY,
                "Start a point-in-time backup of a node to another node, taken with copy-before-write: a "
                        + "copy-before-write filter goes above the source, and a guest write to a cluster not yet "
                        + "copied first copies its old data to the target. A backup job never goes ready; sync none "
                        + "runs until cancelled (fleecing). Errors as QEMU's: 'Cannot find device=...', 'must provide "
                        + "a valid bitmap name for 'bitmap' sync mode', 'Bitmap sync mode must be given when "
                        + "providing a bitmap', 'Cannot specify bitmap sync mode without a bitmap', 'Source and "
                        + "target cannot be the same', 'Compression is not supported for this drive ...', 'Source "
                        + "and target image have different sizes', 'Job ID 'X' already in use'.",
                "0.2", b::blockdevBackup));
        engine.addListener(backups);
        blockQmp.addDriver(registry, new BlockDriverPlugin(SnapshotAccessNode.DRIVER, BackupSchema.SNAPSHOT_ACCESS,
                (name, nodeOptions, options) -> b.openSnapshotAccess(name, nodeOptions, options)));
        return b;
    }

    /**
     * Registers the {@code blockdev-backup} action of QMP {@code transaction}. Call once at wiring
     * time, after {@code transactions.register()}.
     */
    public void registerTransactionAction(TransactionQmp transactions) {
        transactions.registerAction("blockdev-backup", BackupSchema.BLOCKDEV_BACKUP_ARGS,
                new BlockJobTransactionAction(engine, this::create));
    }

    private JsonNode blockdevBackup(Args a) {
        engine.start(create(a, null));
        return null;
    }

    /**
     * blockdev-backup's arguments decoded and checked in QEMU's order (blockdev_backup_prepare,
     * do_backup_common, then backup_job_create's in {@link Backups#create}), then the job created
     * in {@code txn} (null: its own), not started.
     */
    Job create(Args a, JobTxn txn) {
        BlockNode source = graph.lookup(a.str("device"));
        BlockNode target = graph.lookup(a.str("target"));
        MirrorSyncMode sync = MirrorSyncMode.fromWire(a.str("sync"));
        if (sync == null) {
            throw QmpException.generic("Parameter 'sync' does not accept value '%s'", a.str("sync"));
        }
        boolean hasMode = a.has("bitmap-mode");
        BitmapSyncMode mode = hasMode ? BitmapSyncMode.fromWire(a.str("bitmap-mode")) : null;
        Optional<String> bitmapName = a.optStr("bitmap");
        if ((sync == MirrorSyncMode.BITMAP || sync == MirrorSyncMode.INCREMENTAL) && bitmapName.isEmpty()) {
            throw QmpException.generic("must provide a valid bitmap name for '%s' sync mode", sync.wireName());
        }
        if (sync == MirrorSyncMode.INCREMENTAL) {
            if (hasMode && mode != BitmapSyncMode.ON_SUCCESS) {
                throw QmpException.generic("Bitmap sync mode must be '%s' when using sync mode '%s'",
                        BitmapSyncMode.ON_SUCCESS.wireName(), sync.wireName());
            }
            hasMode = true;
            mode = BitmapSyncMode.ON_SUCCESS;
            sync = MirrorSyncMode.BITMAP;
        }
        DirtyBitmap bitmap = null;
        if (bitmapName.isPresent()) {
            String name = bitmapName.get();
            bitmap = source.dirtyBitmap(name)
                    .orElseThrow(() -> QmpException.generic("Bitmap '%s' could not be found", name));
            if (!hasMode) {
                throw QmpException.generic("Bitmap sync mode must be given when providing a bitmap");
            }
            DirtyBitmap b = bitmap;
            translated(() -> Backups.checkUsable(b));
            if (sync == MirrorSyncMode.NONE) {
                throw QmpException.generic("sync mode '%s' does not produce meaningful bitmap outputs",
                        sync.wireName());
            }
            if (mode == BitmapSyncMode.NEVER && sync != MirrorSyncMode.BITMAP) {
                throw QmpException.generic("Bitmap sync mode '%s' has no meaningful effect when combined with sync "
                        + "mode '%s'", mode.wireName(), sync.wireName());
            }
        }
        if (bitmap == null && hasMode) {
            throw QmpException.generic("Cannot specify bitmap sync mode without a bitmap");
        }
        BackupPerf d = BackupSchema.PERF_DEFAULTS;
        BackupPerf perf = d;
        if (a.has("x-perf")) {
            JsonNode p = a.raw("x-perf");
            perf = new BackupPerf(p.path("use-copy-range").asBoolean(d.useCopyRange()),
                    p.path("max-workers").asLong(d.maxWorkers()), p.path("max-chunk").asLong(d.maxChunk()));
        }
        BackupOptions opts = new BackupOptions(sync, bitmap, bitmap == null ? null : mode, a.bool("compress", false),
                BlockdevOnError.fromWire(a.str("on-source-error", "report")),
                BlockdevOnError.fromWire(a.str("on-target-error", "report")), a.bool("discard-source", false), perf);
        String jobId = a.optStr("job-id").orElseGet(() -> Backups.deviceName(source));
        JobOptions j = BackupSchema.JOB_DEFAULTS;
        JobOptions jobOpts = j.withAutoFinalize(a.bool("auto-finalize", j.autoFinalize()))
                .withAutoDismiss(a.bool("auto-dismiss", j.autoDismiss())).withSpeed(a.integer("speed", j.speed()))
                .withTxn(txn);
        String filter = a.optStr("filter-node-name").orElse(null);
        return translated(() -> backups.create(jobId, source, target, opts, jobOpts, filter));
    }

    /** blockdev-add driver=snapshot-access: {@code file} must name a copy-before-write filter. Main loop. */
    private BlockNode openSnapshotAccess(String name, dev.converge.block.NodeOptions nodeOptions, ObjectNode options) {
        String file = options.path("file").asText();
        BlockNode f = graph.lookup(file);
        if (!(f instanceof BackupFilterNode)) {
            throw QmpException.generic("'%s' is not a copy-before-write filter: snapshot-access needs one", file);
        }
        try {
            return new SnapshotAccessNode(name, nodeOptions, f);
        } catch (BlockIOException e) {
            throw QmpException.generic("Unable to get length for '%s': %s", file, e.getMessage());
        }
    }

    /** The live backup job's driver with this id, if any (tests, benchmarks). */
    public Optional<BackupJob> driver(String id) {
        return backups.driver(id);
    }

    /** The one translation: a domain refusal is a GenericError with the same text. */
    private static <T> T translated(Supplier<T> act) {
        try {
            return act.get();
        } catch (BackupRefusedException e) {
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
