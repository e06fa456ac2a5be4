package dev.converge.block.qmp;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import dev.converge.block.backup.BackupPerf;
import dev.converge.block.backup.BitmapSyncMode;
import dev.converge.job.JobOptions;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.ObjectType;

/**
 * The QMP types of the backup (QEMU 10.0's qapi/block-core.json for these): BitmapSyncMode,
 * BackupPerf and blockdev-backup's arguments (BlockdevBackup: BackupCommon plus target). Data
 * only; the defaults the docs quote come from {@link BackupPerf} and {@link JobOptions}.
 */
final class BackupSchema {
    static final JobOptions JOB_DEFAULTS = JobOptions.defaults();
    static final BackupPerf PERF_DEFAULTS = BackupPerf.defaults();

    static final EnumType BITMAP_SYNC = EnumType.of("BitmapSyncMode", BitmapSyncMode.class,
            BitmapSyncMode::wireName,
            "What a backup does to its bitmap at the end: on-success (it then holds only the writes made since the "
                    + "backup began), never (it keeps every bit and gains the writes made meanwhile), always "
                    + "(as on-success also on failure, plus the clusters not copied)");

    static final ObjectType PERF = ObjectType.struct("BackupPerf", "Performance options of a backup (unstable).",
            optional("use-copy-range", BuiltinType.BOOL, "use copy offloading; accepted, converge copies through a "
                    + "buffer; default " + PERF_DEFAULTS.useCopyRange()),
            optional("max-workers", BuiltinType.INT, "copy requests in flight at once, 1 or more; default "
                    + PERF_DEFAULTS.maxWorkers() + " (converge runs at most " + BackupPerf.MAX_THREADS + ")"),
            optional("max-chunk", BuiltinType.INT64, "the largest copy request in bytes; 0 (default): no limit "
                    + "beyond converge's " + MirrorSchema.iec(BackupPerf.DEFAULT_CHUNK)));

    /** The arguments of blockdev-backup; also the data of the {@code blockdev-backup} transaction action. */
    static final ObjectType BLOCKDEV_BACKUP_ARGS = ObjectType.struct("BlockdevBackup",
            "Arguments of blockdev-backup.",
            optional("job-id", BuiltinType.STR, "the job id; default the device name of the source's user"),
            required("device", BuiltinType.STR, "the source: a device or node name"),
            required("sync", MirrorSchema.SYNC, "what to copy: full, top, none, bitmap, incremental (bitmap with "
                    + "bitmap-mode on-success)"),
            optional("speed", BuiltinType.INT, "speed limit in bytes per second; default " + JOB_DEFAULTS.speed()
                    + " (unlimited)"),
            optional("bitmap", BuiltinType.STR, "a dirty bitmap of the source: with sync bitmap/incremental the "
                    + "clusters to copy; with any sync settled at the end by bitmap-mode"),
            optional("bitmap-mode", BITMAP_SYNC, "what happens to the bitmap at the end; required with a bitmap"),
            optional("compress", BuiltinType.BOOL, "compressed writes to the target (qcow2: each cluster deflated "
                    + "when that makes it smaller); refused for a target without them; default false"),
            optional("on-source-error", MirrorSchema.ON_ERROR, "policy for read errors of the job's copies; "
                    + "default report"),
            optional("on-target-error", MirrorSchema.ON_ERROR, "policy for write errors of the job's copies; "
                    + "default report"),
            optional("auto-finalize", BuiltinType.BOOL, "default " + JOB_DEFAULTS.autoFinalize()),
            optional("auto-dismiss", BuiltinType.BOOL, "default " + JOB_DEFAULTS.autoDismiss()),
            optional("filter-node-name", BuiltinType.STR, "the name of the copy-before-write filter; default "
                    + "generated (name it to put a snapshot-access node above it for fleecing)"),
            optional("discard-source", BuiltinType.BOOL, "discard each source cluster once copied; default false"),
            optional("x-perf", PERF, "performance options (unstable)"),
            required("target", BuiltinType.STR, "the target node, of the source's size"));

    /** The snapshot-access driver's own member of blockdev-add (QEMU's BlockdevOptionsGenericFormat). */
    static final ObjectType SNAPSHOT_ACCESS = ObjectType.struct("BlockdevOptionsSnapshotAccess",
            "Options of the snapshot-access driver: the point-in-time image of a backup, read-only.",
            required("file", BuiltinType.STR, "the copy-before-write filter (a backup's filter-node-name)"));

    private BackupSchema() {
    }
}
