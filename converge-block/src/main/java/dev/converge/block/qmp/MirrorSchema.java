package dev.converge.block.qmp;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import dev.converge.block.mirror.BlockErrorAction;
import dev.converge.block.mirror.BlockdevOnError;
import dev.converge.block.mirror.MirrorCopyMode;
import dev.converge.block.mirror.MirrorOptions;
import dev.converge.block.mirror.MirrorSyncMode;
import dev.converge.job.JobOptions;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.EventSpec;
import dev.converge.qmp.schema.ObjectType;
import dev.converge.qmp.schema.WireEnum;
import java.util.List;

/**
 * The QMP types of the mirror and the block jobs (QEMU's qapi/block-core.json for these): the
 * enums, blockdev-mirror's arguments, BlockJobInfo and the BLOCK_JOB_* events. Data only; the
 * defaults the docs quote come from {@link MirrorOptions}, where the code takes them too.
 */
final class MirrorSchema {
    static final String SINCE = "0.1";
    /** The defaults of blockdev-mirror, declared once (also used by {@link MirrorQmp} when an argument is absent). */
    static final MirrorOptions DEFAULTS = MirrorOptions.defaults();
    /** The job defaults of blockdev-mirror (auto-finalize, auto-dismiss, speed), declared once. */
    static final JobOptions JOB_DEFAULTS = JobOptions.defaults();

    static final EnumType ON_ERROR = EnumType.of("BlockdevOnError", BlockdevOnError.class, BlockdevOnError::wireName,
            "An action to take on an I/O error: report, ignore, enospc (stop on ENOSPC, else report), stop, auto");
    static final WireEnum<MirrorCopyMode> COPY_MODE = WireEnum.of("MirrorCopyMode", MirrorCopyMode.class,
            MirrorCopyMode::wireName,
            "background: new writes are copied later; write-blocking: new writes are written to the target "
                    + "before they complete");
    static final EnumType SYNC = EnumType.of("MirrorSyncMode", MirrorSyncMode.class, MirrorSyncMode::wireName,
            "What to copy: full (the whole disk), top (what the top layer holds), none (mirror: only new "
                    + "writes; backup: only what copy-before-write saves), bitmap and incremental (backup only: the "
                    + "clusters of a dirty bitmap; blockdev-mirror refuses them)");
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
            optional("speed", BuiltinType.INT, "speed limit in bytes per second; default " + JOB_DEFAULTS.speed()
                    + " (unlimited)"),
            optional("granularity", BuiltinType.UINT32,
                    "bytes per dirty-bitmap bit: a power of 2 in [512B, 64MB]; default " + iec(DEFAULTS.granularity())),
            optional("buf-size", BuiltinType.INT, "most bytes in flight; default " + iec(DEFAULTS.bufSize())),
            optional("on-source-error", ON_ERROR, "policy for source read errors; default "
                    + DEFAULTS.onSourceError().wireName()),
            optional("on-target-error", ON_ERROR, "policy for target write errors; default "
                    + DEFAULTS.onTargetError().wireName()),
            optional("filter-node-name", BuiltinType.STR, "the name of the mirror_top filter; default generated"),
            optional("copy-mode", COPY_MODE.type(), "default " + DEFAULTS.copyMode().wireName()),
            optional("auto-finalize", BuiltinType.BOOL, "default " + JOB_DEFAULTS.autoFinalize()),
            optional("auto-dismiss", BuiltinType.BOOL, "default " + JOB_DEFAULTS.autoDismiss()),
            optional("unmap", BuiltinType.BOOL, "write zero ranges with unmap on the target; default "
                    + DEFAULTS.unmap()));

    /** One entry of query-block-jobs. */
    static final ObjectType BLOCK_JOB_INFO = ObjectType.struct("BlockJobInfo", "Information about a block job.",
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

    private static final ObjectType PROGRESS = ObjectType.struct("q_obj_BLOCK_JOB_COMPLETED-arg", null,
            required("type", BuiltinType.STR, "job type"), required("device", BuiltinType.STR, "job id"),
            required("len", BuiltinType.INT, "total progress"), required("offset", BuiltinType.INT, "progress"),
            required("speed", BuiltinType.INT, "speed limit"),
            optional("error", BuiltinType.STR, "the error, when the job failed"));

    /** The BLOCK_JOB_* events, in declaration order. */
    static final List<EventSpec> EVENTS = List.of(
            new EventSpec("BLOCK_JOB_COMPLETED", PROGRESS,
                    "The block job ended (with error when it failed); a force-cancelled job sends BLOCK_JOB_CANCELLED.",
                    SINCE),
            new EventSpec("BLOCK_JOB_CANCELLED", PROGRESS, "The block job was cancelled.", SINCE),
            new EventSpec("BLOCK_JOB_READY", PROGRESS, "The block job is ready for job-complete.", SINCE),
            new EventSpec("BLOCK_JOB_PENDING", ObjectType.struct("q_obj_BLOCK_JOB_PENDING-arg", null,
                    required("type", BuiltinType.STR, "job type"), required("id", BuiltinType.STR, "job id")),
                    "The block job waits for block-job-finalize (auto-finalize false).", SINCE),
            new EventSpec("BLOCK_JOB_ERROR", ObjectType.struct("q_obj_BLOCK_JOB_ERROR-arg", null,
                    required("device", BuiltinType.STR, "job id"),
                    required("operation", IO_OP, "read (source) or write (target)"),
                    required("action", ACTION, "what the job did about it")),
                    "A block job met an I/O error.", SINCE));

    private MirrorSchema() {
    }

    /** 65536 → "64 KiB", 16777216 → "16 MiB", as the docs write sizes. */
    static String iec(long bytes) {
        if (bytes % (1L << 20) == 0) {
            return (bytes >> 20) + " MiB";
        }
        if (bytes % 1024 == 0) {
            return (bytes >> 10) + " KiB";
        }
        return bytes + " B";
    }
}
