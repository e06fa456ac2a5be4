package dev.converge.nbd.qmp;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.EventSpec;
import dev.converge.qmp.schema.ObjectType;
import java.util.List;
import java.util.Map;

/**
 * The QAPI types of the NBD server commands, with QEMU's names (qapi/block-export.json) so that
 * query-qmp-schema shows what QEMU shows for what we implement. The socket address types are
 * {@link dev.converge.qmp.sockets.SocketAddressQmp}'s.
 */
public final class NbdSchema {
    private NbdSchema() {
    }

    public static final EnumType EXPORT_TYPE = new EnumType("BlockExportType", List.of("nbd"),
            "An enumeration of block export types (converge has nbd).");
    public static final EnumType REMOVE_MODE = new EnumType("BlockExportRemoveMode", List.of("safe", "hard"),
            "Mode for removing a block export.");

    public static final ObjectType NBD_EXPORT_OPTIONS = ObjectType.struct("BlockExportOptionsNbd",
            "An NBD block export (options besides those of BlockExportOptionsNbdBase).",
            optional("name", BuiltinType.STR, "export name; default the node name"),
            optional("description", BuiltinType.STR, "free-form description of the export (up to 4096 bytes)"),
            optional("bitmaps", new ArrayType(new dev.converge.qmp.schema.AlternateType("BlockDirtyBitmapOrStr",
                    List.of(BuiltinType.STR, dev.converge.block.qmp.BitmapQmp.BLOCK_DIRTY_BITMAP),
                    "a bitmap by name (of the node or a node below it) or as {node, name} on any node")),
                    "dirty bitmaps to offer as qemu:dirty-bitmap:NAME meta contexts; busy while exported"),
            optional("allocation-depth", BuiltinType.BOOL,
                    "offer qemu:allocation-depth (refused when true: not supported); default false"),
            optional("multi-conn", dev.converge.block.qmp.BlockSchema.ON_OFF_AUTO,
                    "whether multiple client support (NBD_FLAG_CAN_MULTI_CONN) is advertised, if the server's "
                    + "max-connections is not 1; auto (default) advertises it also for writable exports, whose "
                    + "writes and flushes are consistent across connections"));

    /** QEMU's BlockExportOptions flat union (block-export-add's arguments). */
    public static final ObjectType BLOCK_EXPORT_OPTIONS = ObjectType.union("BlockExportOptions",
            "Describes a block export, i.e. how single node should be exported on an external interface.",
            List.of(required("type", EXPORT_TYPE, "block export type"),
                    required("id", BuiltinType.STR, "a unique identifier for the block export (across all types)"),
                    optional("fixed-iothread", BuiltinType.BOOL, "accepted (converge has no iothreads)"),
                    optional("iothread", BuiltinType.STR, "refused: converge has no iothreads"),
                    required("node-name", BuiltinType.STR, "the node name of the block node to be exported"),
                    optional("writable", BuiltinType.BOOL, "true if clients may write to the export; default false"),
                    optional("writethrough", BuiltinType.BOOL,
                            "every write is flushed before its reply; default false")),
            "type", Map.of("nbd", NBD_EXPORT_OPTIONS));

    public static final ObjectType BLOCK_EXPORT_INFO = ObjectType.struct("BlockExportInfo",
            "Information about a single block export.",
            required("id", BuiltinType.STR, "the unique identifier for the block export"),
            required("type", EXPORT_TYPE, "the block export type"),
            required("node-name", BuiltinType.STR, "the node name of the block node that is exported"),
            required("shutting-down", BuiltinType.BOOL,
                    "true if the export is shutting down (e.g. after a block-export-del mode=hard)"));

    public static final EventSpec BLOCK_EXPORT_DELETED = new EventSpec("BLOCK_EXPORT_DELETED",
            ObjectType.struct("q_obj_BLOCK_EXPORT_DELETED-arg", null,
                    required("id", BuiltinType.STR, "block export id")),
            "Emitted when a block export is removed and its id can be reused.", "0.1");
}
