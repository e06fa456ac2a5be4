package dev.converge.block.qmp;

import dev.converge.block.driver.BlockDriverPlugin;
import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import dev.converge.block.driver.BlockdevOpener;
import dev.converge.qmp.schema.AlternateType;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.Member;
import dev.converge.qmp.schema.ObjectType;
import dev.converge.qmp.schema.SchemaType;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The QAPI types of the block commands, declared once, with QEMU's names (qapi/block-core.json)
 * so that query-qmp-schema shows what QEMU shows for the parts we implement.
 * <p>
 * BlockdevOptions is recursive (raw's {@code file} may be inline BlockdevOptions); the schema
 * records are immutable values, so the recursion is unrolled {@value #NESTING} levels deep,
 * every level with the same type names. The deepest BlockdevRef accepts only a node name.
 */
public final class BlockSchema {
    /** How deep inline child definitions may nest in blockdev-add. */
    public static final int NESTING = 4;

    public static final EnumType DRIVER = new EnumType("BlockdevDriver", BlockdevOpener.DRIVERS,
            "Drivers that are supported in block device operations.");
    public static final EnumType DISCARD = new EnumType("BlockdevDiscardOptions", BlockdevOpener.DISCARD,
            "Whether discard requests are ignored or passed to the storage.");
    public static final EnumType DETECT_ZEROES = new EnumType("BlockdevDetectZeroesOptions",
            BlockdevOpener.DETECT_ZEROES, "Whether zero writes are detected (converge supports 'off').");
    public static final EnumType ON_OFF_AUTO = new EnumType("OnOffAuto", BlockdevOpener.ON_OFF_AUTO,
            "An enumeration of three options: on, off, and auto.");
    public static final EnumType AIO = new EnumType("BlockdevAioOptions", BlockdevOpener.AIO,
            "The AIO backend (accepted; converge does blocking I/O on virtual threads).");
    public static final EnumType BLKDEBUG_EVENT = new EnumType("BlkdebugEvent", BlockdevOpener.BLKDEBUG_EVENTS,
            "Trace point and error injection events.");
    public static final EnumType BLKDEBUG_IO_TYPE = new EnumType("BlkdebugIOType", BlockdevOpener.IO_TYPES,
            "Kinds of I/O that blkdebug can inject errors in.");
    public static final EnumType PERMISSION = new EnumType("BlockPermission", BlockdevOpener.PERMISSIONS,
            "Permission types of a block graph edge.");

    public static final ObjectType CACHE_OPTIONS = ObjectType.struct("BlockdevCacheOptions",
            "Cache mode options.",
            optional("direct", BuiltinType.BOOL, "bypass the host page cache (O_DIRECT); default false"),
            optional("no-flush", BuiltinType.BOOL, "ignore flush requests; default false"));

    public static final ObjectType FILE_OPTIONS = ObjectType.struct("BlockdevOptionsFile",
            "Driver specific block device options for the file backend.",
            required("filename", BuiltinType.STR, "path to the image file"),
            optional("pr-manager", BuiltinType.STR, "persistent reservation manager (not supported)"),
            optional("locking", ON_OFF_AUTO, "image locking (accepted, not enforced)"),
            optional("aio", AIO, "AIO backend (accepted)"),
            optional("aio-max-batch", BuiltinType.INT, "AIO batch size (accepted)"),
            optional("drop-cache", BuiltinType.BOOL, "accepted"),
            optional("x-check-cache-dropped", BuiltinType.BOOL, "accepted"));

    public static final ObjectType NULL_OPTIONS = ObjectType.struct("BlockdevOptionsNull",
            "Driver specific block device options for the null backend.",
            optional("size", BuiltinType.INT, "size of the device in bytes; default 2^30"),
            optional("latency-ns", BuiltinType.UINT64, "emulated latency of every request; default 0"),
            optional("read-zeroes", BuiltinType.BOOL, "reads return zeroes; default false"));

    public static final ObjectType INJECT_ERROR = ObjectType.struct("BlkdebugInjectErrorOptions",
            "Describes a single error injection for blkdebug.",
            required("event", BLKDEBUG_EVENT, "trigger event"),
            optional("state", BuiltinType.INT, "the state in which the event triggers the rule; default any"),
            optional("iotype", BLKDEBUG_IO_TYPE, "the I/O type to fail; default all but block-status"),
            optional("errno", BuiltinType.INT, "error number to return; default EIO (5)"),
            optional("sector", BuiltinType.INT, "only fail requests touching this 512-byte sector; default -1 (any)"),
            optional("once", BuiltinType.BOOL, "fail only once; default false"),
            optional("immediately", BuiltinType.BOOL, "accepted (errors are always returned to the caller)"));

    public static final ObjectType SET_STATE = ObjectType.struct("BlkdebugSetStateOptions",
            "Describes a single state-change event for blkdebug.",
            required("event", BLKDEBUG_EVENT, "trigger event"),
            optional("state", BuiltinType.INT, "the current state the rule applies in; default any"),
            required("new_state", BuiltinType.INT, "the resulting state"));

    /** BlockdevOptions with the built-in drivers only. */
    public static final ObjectType BLOCKDEV_OPTIONS = blockdevOptions(List.of());

    /** BlockdevOptions with the built-in drivers and {@code plugins} (their variants at every nesting level). */
    public static ObjectType blockdevOptions(List<BlockDriverPlugin> plugins) {
        List<String> names = new java.util.ArrayList<>(BlockdevOpener.DRIVERS);
        plugins.forEach(p -> names.add(p.name()));
        names.sort(null);
        EnumType driver = plugins.isEmpty() ? DRIVER : new EnumType(DRIVER.typeName(), names, DRIVER.doc());
        return blockdevOptions(NESTING, driver, plugins);
    }

    private BlockSchema() {
    }

    private static SchemaType refOrNull(SchemaType ref, String level) {
        List<SchemaType> alts = new java.util.ArrayList<>();
        if (ref instanceof AlternateType a) {
            alts.addAll(a.alternatives());
        } else {
            alts.add(ref);
        }
        alts.add(BuiltinType.NULL);
        return new AlternateType("BlockdevRefOrNull" + level, alts,
                "Reference to a block device, or null for none.");
    }

    /**
     * QEMU's BlockdevOptions is recursive (an inline child is a BlockdevOptions); our schema types
     * are plain values, so the recursion is unrolled {@link #NESTING} levels deep. Each nested level
     * differs (the innermost takes only node names), so it gets its own name ("BlockdevOptions-L2",
     * ...): one name, one content, as introspection requires.
     */
    private static ObjectType blockdevOptions(int depth, EnumType driver, List<BlockDriverPlugin> plugins) {
        String level = depth == NESTING ? "" : "-L" + (NESTING - depth + 1);
        SchemaType ref = depth == 0
                ? new AlternateType("BlockdevRef" + level, List.of(BuiltinType.STR), "A node name (inline definitions nest "
                        + NESTING + " deep at most).")
                : new AlternateType("BlockdevRef" + level, List.of(blockdevOptions(depth - 1, driver, plugins), BuiltinType.STR),
                        "Reference to a block device: inline options or the node-name of an existing node.");
        Map<String, ObjectType> variants = new LinkedHashMap<>();
        variants.put("blkdebug", ObjectType.struct("BlockdevOptionsBlkdebug" + level,
                "Driver specific block device options for blkdebug.",
                required("image", ref, "underlying raw block device (or image file)"),
                optional("config", BuiltinType.STR, "filename of the configuration file (not supported)"),
                optional("align", BuiltinType.INT, "required alignment for requests in bytes"),
                optional("max-transfer", BuiltinType.INT, "accepted"),
                optional("opt-write-zero", BuiltinType.INT, "accepted"),
                optional("max-write-zero", BuiltinType.INT, "accepted"),
                optional("opt-discard", BuiltinType.INT, "accepted"),
                optional("max-discard", BuiltinType.INT, "accepted"),
                optional("inject-error", new ArrayType(INJECT_ERROR), "array of error injection descriptions"),
                optional("set-state", new ArrayType(SET_STATE), "array of state-change descriptions"),
                optional("take-child-perms", new ArrayType(PERMISSION), "accepted"),
                optional("unshare-child-perms", new ArrayType(PERMISSION), "accepted")));
        variants.put("file", FILE_OPTIONS);
        variants.put("null-co", NULL_OPTIONS);
        variants.put("raw", ObjectType.struct("BlockdevOptionsRaw" + level,
                "Driver specific block device options for the raw driver.",
                required("file", ref, "the child holding the bytes"),
                optional("offset", BuiltinType.INT, "position where the block device starts; default 0"),
                optional("size", BuiltinType.INT, "the assumed size of the device; default to the end of file")));
        variants.put("qcow2", ObjectType.struct("BlockdevOptionsQcow2" + level,
                "Driver specific block device options for qcow2.",
                required("file", ref, "the node holding the image"),
                optional("backing", refOrNull(ref, level), "the backing node: a node name, inline options, or null "
                        + "for none; default: the backing file the image names, opened read-only"),
                optional("lazy-refcounts", BuiltinType.BOOL, "accepted; converge keeps refcounts in order always"),
                optional("pass-discard-request", BuiltinType.BOOL, "accepted"),
                optional("pass-discard-snapshot", BuiltinType.BOOL, "accepted"),
                optional("pass-discard-other", BuiltinType.BOOL, "accepted"),
                optional("discard-no-unref", BuiltinType.BOOL, "accepted"),
                optional("overlap-check", BuiltinType.ANY, "accepted"),
                optional("cache-size", BuiltinType.INT, "the maximum total metadata cache size in bytes"),
                optional("l2-cache-size", BuiltinType.INT, "the maximum L2 table cache size in bytes; default: "
                        + "enough for the whole disk, at most 32 MiB"),
                optional("l2-cache-entry-size", BuiltinType.INT, "accepted (entries are whole clusters)"),
                optional("refcount-cache-size", BuiltinType.INT, "the maximum refcount block cache size in bytes"),
                optional("cache-clean-interval", BuiltinType.INT, "accepted"),
                optional("encrypt", BuiltinType.ANY, "refused: encrypted images are not supported"),
                optional("data-file", BuiltinType.ANY, "refused: external data files are not supported")));
        plugins.forEach(p -> variants.put(p.name(), p.options()));
        List<Member> base = List.of(
                required("driver", driver, "block driver name"),
                optional("node-name", BuiltinType.STR, "the node name of the new node; generated when absent"),
                optional("discard", DISCARD, "discard-related options; default 'ignore' ('unmap' for inline children)"),
                optional("cache", CACHE_OPTIONS, "cache-related options"),
                optional("read-only", BuiltinType.BOOL, "whether the block device should be read-only; default false"),
                optional("auto-read-only", BuiltinType.BOOL, "accepted"),
                optional("force-share", BuiltinType.BOOL, "accepted"),
                optional("detect-zeroes", DETECT_ZEROES, "detect and optimise zero writes; only 'off'"));
        return ObjectType.union("BlockdevOptions" + level, "Options for creating a block device.", base, "driver", variants);
    }

    public static final ObjectType CACHE_INFO = ObjectType.struct("BlockdevCacheInfo", "Cache mode information.",
            required("writeback", BuiltinType.BOOL, "true if writeback mode is enabled"),
            required("direct", BuiltinType.BOOL, "true if the host page cache is bypassed (O_DIRECT)"),
            required("no-flush", BuiltinType.BOOL, "true if flush requests are ignored"));

    public static final ObjectType DIRTY_INFO = ObjectType.struct("BlockDirtyInfo", "Block dirty bitmap information.",
            optional("name", BuiltinType.STR, "the name of the dirty bitmap (absent for a job's own)"),
            required("count", BuiltinType.INT, "number of dirty bytes"),
            required("granularity", BuiltinType.UINT32, "granularity of the dirty bitmap in bytes"),
            required("recording", BuiltinType.BOOL, "true if the bitmap is recording new writes"),
            required("busy", BuiltinType.BOOL, "true if the bitmap is in use by a job"),
            required("persistent", BuiltinType.BOOL, "true if the bitmap is stored in the image (never here)"));

    public static final ObjectType IMAGE_INFO = imageInfo(3);

    private static ObjectType imageInfo(int depth) {
        List<Member> m = new java.util.ArrayList<>(List.of(
                required("filename", BuiltinType.STR, "name of the image file"),
                required("format", BuiltinType.STR, "format of the image file"),
                optional("dirty-flag", BuiltinType.BOOL, "true if image is not cleanly closed"),
                optional("actual-size", BuiltinType.INT, "actual size on disk in bytes, if known"),
                required("virtual-size", BuiltinType.INT, "maximum capacity in bytes"),
                optional("cluster-size", BuiltinType.INT, "size of a cluster in bytes (qcow2)"),
                optional("backing-filename", BuiltinType.STR, "name of the backing file, as the image stores it"),
                optional("full-backing-filename", BuiltinType.STR, "full path of the backing file"),
                optional("backing-filename-format", BuiltinType.STR, "the format of the backing file"),
                optional("format-specific", BuiltinType.ANY, "structure supplying additional format-specific "
                        + "information (qcow2: compat, lazy-refcounts, refcount-bits, corrupt, extended-l2)")));
        if (depth > 0) {
            // QEMU's ImageInfo is recursive; unrolled, each level with its own name
            m.add(optional("backing-image", imageInfo(depth - 1), "info of the backing image"));
        }
        String name = depth == 3 ? "ImageInfo" : "ImageInfo-L" + (4 - depth);
        return ObjectType.struct(name, "Information about a QEMU image file.", m);
    }

    public static final ObjectType DEVICE_INFO = ObjectType.struct("BlockDeviceInfo",
            "Information about the backing device for a block device.",
            required("file", BuiltinType.STR, "the filename of the backing device"),
            required("node-name", BuiltinType.STR, "the name of the block driver node"),
            required("ro", BuiltinType.BOOL, "true if the backing device was open read-only"),
            required("drv", BuiltinType.STR, "the name of the block format used to open the backing device"),
            required("backing_file_depth", BuiltinType.INT, "number of files in the backing file chain"),
            required("encrypted", BuiltinType.BOOL, "true if the backing device is encrypted"),
            required("detect_zeroes", DETECT_ZEROES, "detect and optimize zero writes"),
            required("bps", BuiltinType.INT, "total throughput limit (always 0)"),
            required("bps_rd", BuiltinType.INT, "read throughput limit (always 0)"),
            required("bps_wr", BuiltinType.INT, "write throughput limit (always 0)"),
            required("iops", BuiltinType.INT, "total I/O operations per second limit (always 0)"),
            required("iops_rd", BuiltinType.INT, "read I/O operations per second limit (always 0)"),
            required("iops_wr", BuiltinType.INT, "write I/O operations per second limit (always 0)"),
            required("image", IMAGE_INFO, "the info of the image"),
            required("cache", CACHE_INFO, "the cache mode used for the block device"),
            required("write_threshold", BuiltinType.INT, "write offset threshold (always 0)"),
            optional("dirty-bitmaps", new ArrayType(DIRTY_INFO), "dirty bitmaps of the node, newest first"));

    public static final ObjectType BLOCK_INFO = ObjectType.struct("BlockInfo", "Block device information.",
            required("device", BuiltinType.STR, "the device name"),
            optional("qdev", BuiltinType.STR, "the qdev id of the guest device, if any"),
            required("type", BuiltinType.STR, "always 'unknown'"),
            required("removable", BuiltinType.BOOL, "true if the device supports removable media"),
            required("locked", BuiltinType.BOOL, "true if the guest has locked the medium"),
            optional("inserted", DEVICE_INFO, "the node in use"));
}
