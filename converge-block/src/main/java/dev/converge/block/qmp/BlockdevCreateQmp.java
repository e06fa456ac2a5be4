package dev.converge.block.qmp;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.block.BlockGraph;
import dev.converge.block.create.BlockdevCreate;
import dev.converge.block.create.CreateJob;
import dev.converge.block.driver.PreallocMode;
import dev.converge.block.driver.qcow2.Qcow2Formatter;
import dev.converge.job.JobEngine;
import dev.converge.job.JobException;
import dev.converge.job.qmp.JobQmp;
import dev.converge.qmp.Args;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.Member;
import dev.converge.qmp.schema.ObjectType;
import dev.converge.qmp.schema.SchemaType;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * blockdev-create (QEMU's qmp_blockdev_create and the QAPI types BlockdevCreateOptions,
 * BlockdevCreateOptionsFile, BlockdevCreateOptionsQcow2): decodes the options with QEMU's
 * defaults and starts a {@code create} job ({@link BlockdevCreate}). Drivers other than
 * {@code file} and {@code qcow2} get QEMU's "Driver does not support blockdev-create".
 */
public final class BlockdevCreateQmp {
    static final EnumType PREALLOC_MODE = new EnumType("PreallocMode",
            Arrays.stream(PreallocMode.values()).map(PreallocMode::wireName).toList(),
            "Preallocation mode of QEMU image file.");
    static final EnumType QCOW2_VERSION = new EnumType("BlockdevQcow2Version", List.of("v2", "v3"),
            "The qcow2 version: v2 (compat 0.10) or v3 (compat 1.1).");
    static final EnumType QCOW2_COMPRESSION = new EnumType("Qcow2CompressionType", List.of("zlib", "zstd"),
            "Compression type used in qcow2 image file (converge writes zlib only).");

    static final ObjectType FILE = ObjectType.struct("BlockdevCreateOptionsFile",
            "Driver specific image creation options for file.",
            required("filename", BuiltinType.STR, "Filename for the new image file"),
            required("size", BuiltinType.SIZE, "Size of the virtual disk in bytes"),
            optional("preallocation", PREALLOC_MODE, "Preallocation mode for the new image (default: off; "
                    + "allowed values: off, falloc, full)"),
            optional("nocow", BuiltinType.BOOL, "Turn off copy-on-write (valid only on btrfs; accepted and "
                    + "ignored by converge; default: false)"),
            optional("extent-size-hint", BuiltinType.SIZE, "Extent size hint to add to the image file "
                    + "(accepted and ignored by converge)"));

    private final JobEngine engine;
    private final BlockdevCreate create;

    private BlockdevCreateQmp(JobEngine engine, BlockdevCreate create) {
        this.engine = Objects.requireNonNull(engine);
        this.create = Objects.requireNonNull(create);
    }

    /**
     * Registers blockdev-create and the {@code create} job kind. Wiring, after {@code jobQmp.register()}
     * and after every block driver was added (the options share blockdev-add's driver enum and
     * node reference types, which grow with the drivers).
     */
    public static void register(QmpRegistry registry, JobEngine engine, JobQmp jobQmp, BlockGraph graph) {
        BlockdevCreateQmp q = new BlockdevCreateQmp(engine, new BlockdevCreate(engine, graph));
        jobQmp.registerJobKind(CreateJob.KIND);
        registry.register(new CommandSpec("blockdev-create", CommandSpec.args("blockdev-create",
                required("job-id", BuiltinType.STR, "Identifier for the newly created job."),
                required("options", createOptions(registry), "Options for the image creation.")),
                CommandSpec.EMPTY,
                "Starts a job to create an image format on a given node. The job concludes (it is not dismissed "
                        + "automatically: use job-dismiss); what the driver finds wrong with the options is the "
                        + "job's error (QEMU's texts, e.g. 'Image size must be a multiple of 512 bytes').",
                MirrorSchema.SINCE, q::blockdevCreate));
    }

    private static ObjectType createOptions(QmpRegistry registry) {
        ObjectType add = registry.command("blockdev-add").map(CommandSpec::arguments)
                .orElse(BlockSchema.BLOCKDEV_OPTIONS);
        SchemaType fileRef = add.variants().get("qcow2").member("file").map(Member::type).orElse(BuiltinType.STR);
        SchemaType driver = add.member("driver").map(Member::type).orElse(BlockSchema.DRIVER);
        ObjectType qcow2 = ObjectType.struct("BlockdevCreateOptionsQcow2",
                "Driver specific image creation options for qcow2.",
                required("file", fileRef, "Node to create the image format on (a node name: converge does not "
                        + "open inline definitions here)"),
                optional("data-file", fileRef, "Node to use as an external data file (not supported by converge)"),
                optional("data-file-raw", BuiltinType.BOOL, "True if the external data file must stay valid as a "
                        + "standalone (read-only) raw image (default: false)"),
                optional("extended-l2", BuiltinType.BOOL, "True to make the image have extended L2 entries "
                        + "(default: false)"),
                required("size", BuiltinType.SIZE, "Size of the virtual disk in bytes"),
                optional("version", QCOW2_VERSION, "Compatibility level (default: v3)"),
                optional("backing-file", BuiltinType.STR, "File name of the backing file if a backing file should "
                        + "be used"),
                optional("backing-fmt", driver, "Name of the block driver to use for the backing file"),
                optional("encrypt", BuiltinType.ANY, "Encryption options (not supported by converge)"),
                optional("cluster-size", BuiltinType.SIZE, "qcow2 cluster size in bytes (default: 65536)"),
                optional("preallocation", PREALLOC_MODE, "Preallocation mode for the new image (default: off)"),
                optional("lazy-refcounts", BuiltinType.BOOL, "True if refcounts may be updated lazily "
                        + "(default: off)"),
                optional("refcount-bits", BuiltinType.INT, "Width of reference counts in bits (default: 16)"),
                optional("compression-type", QCOW2_COMPRESSION, "The image cluster compression method "
                        + "(default: zlib)"));
        Map<String, ObjectType> variants = new LinkedHashMap<>();
        variants.put("file", FILE);
        variants.put("qcow2", qcow2);
        return ObjectType.union("BlockdevCreateOptions", "Options for creating an image format on a given node.",
                List.of(required("driver", driver, "block driver to create the image format")),
                "driver", variants);
    }

    private JsonNode blockdevCreate(Args a) {
        Args o = new Args((com.fasterxml.jackson.databind.node.ObjectNode) a.raw("options"));
        BlockdevCreate.Options options = switch (o.str("driver")) {
            case "file" -> new BlockdevCreate.FileOptions(o.str("filename"), o.integer("size"),
                    PreallocMode.fromWire(o.str("preallocation", "off")));
            case "qcow2" -> qcow2(o);
            default -> throw QmpException.generic("Driver does not support blockdev-create");
        };
        try {
            create.start(a.str("job-id"), options);
        } catch (JobException e) {
            throw JobQmp.toQmp(e);
        }
        return null;
    }

    private static BlockdevCreate.Options qcow2(Args o) {
        if (o.has("data-file") || o.bool("data-file-raw", false)) {
            throw QmpException.generic("qcow2 external data files ('data-file') are not supported by converge");
        }
        if (o.has("encrypt")) {
            throw QmpException.generic("Encrypted qcow2 images are not supported by converge");
        }
        if (o.str("compression-type", "zlib").equals("zstd")) {
            throw QmpException.generic("qcow2 compression type zstd is not supported by converge (only zlib)");
        }
        JsonNode file = o.raw("file");
        if (!file.isTextual()) {
            throw QmpException.generic("converge's blockdev-create takes 'file' as a node name; add the node with "
                    + "blockdev-add first");
        }
        Qcow2Formatter.Format f = new Qcow2Formatter.Format(o.str("version", "v3").equals("v2") ? 2 : 3,
                o.integer("size"), o.integer("cluster-size", 65536), o.bool("extended-l2", false),
                o.bool("lazy-refcounts", false), (int) o.integer("refcount-bits", 16), o.optStr("backing-file"),
                o.optStr("backing-fmt"), PreallocMode.fromWire(o.str("preallocation", "off")));
        return new BlockdevCreate.Qcow2Options(file.asText(), f);
    }
}
