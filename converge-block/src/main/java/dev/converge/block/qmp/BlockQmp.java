package dev.converge.block.qmp;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockBackend;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.block.driver.BlkdebugNode;
import dev.converge.qmp.Args;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.ObjectType;
import java.util.List;
import java.util.Objects;

/**
 * The block QMP commands (QEMU's blockdev.c and block/qapi.c for what we implement):
 * blockdev-add, blockdev-del, query-named-block-nodes, query-block and the dirty bitmap
 * commands. Handlers run on the main loop, as the graph requires; user errors carry QEMU's texts.
 */
public final class BlockQmp {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final long DEFAULT_GRANULARITY = 65536;

    private final BlockGraph graph;

    public BlockQmp(BlockGraph graph) {
        this.graph = Objects.requireNonNull(graph);
    }

    /** Registers every block command on {@code registry}. */
    public void register(QmpRegistry registry) {
        registry.register(blockdevAddSpec());
        registry.register(new CommandSpec("blockdev-del",
                CommandSpec.args("blockdev-del", required("node-name", BuiltinType.STR, "name of the node to delete")),
                CommandSpec.EMPTY,
                "Deletes a node added by blockdev-add, with the children nothing else uses. Refused while the "
                        + "node has users.",
                "0.1", args -> {
                    graph.blockdevDel(args.str("node-name"));
                    return null;
                }));
        registry.register(new CommandSpec("query-named-block-nodes",
                CommandSpec.args("query-named-block-nodes",
                        optional("flat", BuiltinType.BOOL, "omit the nested backing-image data; default false")),
                new ArrayType(BlockSchema.DEVICE_INFO), "Gets the list of named block driver nodes, newest first.",
                "0.1", args -> queryNamedBlockNodes(args.bool("flat", false))));
        registry.register(new CommandSpec("query-block", CommandSpec.EMPTY, new ArrayType(BlockSchema.BLOCK_INFO),
                "Gets a list of BlockInfo for the named users (backends) of block nodes.", "0.1",
                args -> queryBlock()));
        ObjectType bitmapArgs = ObjectType.struct("BlockDirtyBitmap", "A dirty bitmap of a node.",
                required("node", BuiltinType.STR, "name of the device or node which the bitmap is tracking"),
                required("name", BuiltinType.STR, "name of the dirty bitmap"));
        registry.register(new CommandSpec("block-dirty-bitmap-add", ObjectType.struct("BlockDirtyBitmapAdd",
                "Arguments of block-dirty-bitmap-add.",
                required("node", BuiltinType.STR, "name of the device or node which the bitmap is tracking"),
                required("name", BuiltinType.STR, "name of the dirty bitmap (must be unique on the node)"),
                optional("granularity", BuiltinType.UINT32, "bytes per bit: a power of two, at least 512; default 65536"),
                optional("persistent", BuiltinType.BOOL, "store in the image; refused (no qcow2); default false"),
                optional("disabled", BuiltinType.BOOL, "create without recording writes; default false")),
                CommandSpec.EMPTY, "Creates a dirty bitmap that records every write to the node.", "0.1",
                this::bitmapAdd));
        registry.register(new CommandSpec("block-dirty-bitmap-remove", bitmapArgs, CommandSpec.EMPTY,
                "Stops write tracking and removes the dirty bitmap.", "0.1", args -> {
                    BlockNode n = graph.lookup(args.str("node"));
                    n.removeDirtyBitmap(usableBitmap(n, args.str("name")));
                    return null;
                }));
        registry.register(new CommandSpec("block-dirty-bitmap-clear", bitmapArgs, CommandSpec.EMPTY,
                "Clears (resets) the dirty bitmap.", "0.1", args -> {
                    usableBitmap(graph.lookup(args.str("node")), args.str("name")).clear();
                    return null;
                }));
        registry.register(new CommandSpec("block-dirty-bitmap-enable", bitmapArgs, CommandSpec.EMPTY,
                "Enables the dirty bitmap: it records writes again.", "0.1", args -> {
                    usableBitmap(graph.lookup(args.str("node")), args.str("name")).setEnabled(true);
                    return null;
                }));
        registry.register(new CommandSpec("block-dirty-bitmap-disable", bitmapArgs, CommandSpec.EMPTY,
                "Disables the dirty bitmap: it stops recording writes.", "0.1", args -> {
                    usableBitmap(graph.lookup(args.str("node")), args.str("name")).setEnabled(false);
                    return null;
                }));
    }

    /** blockdev-add, declared with the built-in drivers and those added to the graph so far. */
    private CommandSpec blockdevAddSpec() {
        return new CommandSpec("blockdev-add", BlockSchema.blockdevOptions(graph.drivers()), CommandSpec.EMPTY,
                "Creates a new block device (a tree of nodes for inline children). Errors as QEMU: "
                        + "Duplicate nodes with node-name='X', Could not open 'F': ..., Parameter 'P' is unexpected.",
                "0.1", new BlockdevAddHandler());
    }

    /**
     * blockdev-add as the QMP service runs it: a tree with a driver that must talk to a peer
     * first (nbd: connect and handshake) is prepared on a virtual thread, and only opened on the
     * main loop once the peer answered (or timed out), so a hung peer delays this command alone.
     * {@link #handle} runs it all on the calling thread, for wiring and tests.
     */
    private final class BlockdevAddHandler implements dev.converge.qmp.AsyncCommandHandler {
        @Override
        public JsonNode handle(Args args) {
            blockdevAdd(args.node());
            return null;
        }

        @Override
        public java.util.concurrent.CompletionStage<JsonNode> start(Args args) {
            ObjectNode options = args.node().deepCopy();
            if (!graph.blockdevAddWaitsOnPeers(options)) {
                return java.util.concurrent.CompletableFuture.completedFuture(handle(args));
            }
            return java.util.concurrent.CompletableFuture
                    .supplyAsync(() -> graph.prepareBlockdevAdd(options),
                            r -> Thread.ofVirtual().name("blockdev-add-prepare").start(r))
                    .thenApplyAsync(prepared -> {
                        try (prepared) {
                            graph.blockdevAdd(options, prepared);
                            return null;
                        }
                    }, graph.mainLoop());
        }
    }

    /**
     * Adds a driver of another module (e.g. converge-nbd's nbd) to blockdev-add: to the graph's
     * opener and, when blockdev-add is registered already, to its declared arguments. Wiring time.
     */
    public void addDriver(QmpRegistry registry, dev.converge.block.driver.BlockDriverPlugin plugin) {
        graph.addDriver(plugin);
        if (registry.command("blockdev-add").isPresent()) {
            registry.replace(blockdevAddSpec());
        }
    }

    /**
     * blockdev-add with the command's JSON; also the entry point of {@code converged --blockdev}.
     * Main loop.
     *
     * @return the new root node
     * @throws QmpException with QEMU's text; nothing was added then
     */
    public BlockNode blockdevAdd(ObjectNode options) {
        return graph.blockdevAdd(options);
    }

    /** Parses a {@code --blockdev} JSON argument (QEMU's JSON form of the option). */
    public static ObjectNode parseBlockdevJson(String json) {
        JsonNode n;
        try {
            n = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw QmpException.generic("Invalid JSON in --blockdev: %s", e.getOriginalMessage());
        }
        if (n == null || !n.isObject()) {
            throw QmpException.generic("--blockdev expects a JSON object");
        }
        return (ObjectNode) n;
    }

    private JsonNode bitmapAdd(Args args) {
        String name = args.str("name");
        if (name.isEmpty()) {
            throw QmpException.generic("Bitmap name cannot be empty");
        }
        BlockNode n = graph.lookup(args.str("node"));
        long granularity = args.integer("granularity", DEFAULT_GRANULARITY);
        if (!DirtyBitmap.isValidGranularity(granularity)) {
            throw QmpException.generic("Granularity must be power of 2 and at least 512");
        }
        if (args.bool("persistent", false)) {
            throw QmpException.generic("Can't store persistent bitmaps to %s: Operation not supported", n.nodeName());
        }
        if (name.length() > 1023) {
            throw QmpException.generic("Bitmap name too long: %s", name);
        }
        if (n.dirtyBitmap(name).isPresent()) {
            throw QmpException.generic("Bitmap already exists: %s", name);
        }
        try {
            DirtyBitmap b = n.addDirtyBitmap(name, granularity);
            if (args.bool("disabled", false)) {
                b.setEnabled(false);
            }
        } catch (BlockIOException e) {
            throw QmpException.generic("Could not create bitmap on '%s': %s", n.nodeName(), e.getMessage());
        }
        return null;
    }

    private static DirtyBitmap usableBitmap(BlockNode n, String name) {
        DirtyBitmap b = n.dirtyBitmap(name)
                .orElseThrow(() -> QmpException.generic("Dirty bitmap '%s' not found", name));
        if (b.busy()) {
            throw QmpException.generic("Bitmap '%s' is currently in use by another operation and cannot be used", name);
        }
        return b;
    }

    /** query-named-block-nodes. Main loop. */
    public ArrayNode queryNamedBlockNodes(boolean flat) {
        ArrayNode out = JSON.arrayNode();
        for (BlockNode n : graph.nodes()) {
            out.add(deviceInfo(n, flat));
        }
        return out;
    }

    /** query-block: one entry per named backend. Main loop. */
    public ArrayNode queryBlock() {
        ArrayNode out = JSON.arrayNode();
        for (BlockBackend b : graph.backends()) {
            if (b.name() == null) {
                continue;
            }
            ObjectNode o = out.addObject();
            o.put("device", b.name());
            o.put("locked", false);
            o.put("removable", false);
            o.set("inserted", deviceInfo(b.node(), false));
            o.put("type", "unknown");
        }
        return out;
    }

    /** BlockDeviceInfo of one node, in QEMU's member order. */
    static ObjectNode deviceInfo(BlockNode n, boolean flat) {
        ObjectNode o = JSON.objectNode();
        o.put("iops_rd", 0);
        o.put("detect_zeroes", "off");
        boolean filter = !flat && n instanceof BlkdebugNode;
        o.set("image", imageInfo(n, !flat));
        o.put("iops_wr", 0);
        o.put("ro", n.readOnly());
        o.put("node-name", n.nodeName());
        o.put("backing_file_depth", filter ? 1 : 0);
        o.put("drv", n.driverName());
        o.put("iops", 0);
        o.put("bps_wr", 0);
        o.put("write_threshold", 0);
        List<DirtyBitmap> bitmaps = n.dirtyBitmaps().reversed();
        if (!bitmaps.isEmpty()) {
            ArrayNode a = o.putArray("dirty-bitmaps");
            for (DirtyBitmap b : bitmaps) {
                ObjectNode d = a.addObject();
                if (b.name() != null) {
                    d.put("name", b.name());
                }
                d.put("recording", b.enabled());
                d.put("persistent", false);
                d.put("busy", b.busy());
                d.put("granularity", b.granularity());
                d.put("count", b.dirtyBytes());
            }
        }
        o.put("encrypted", false);
        o.put("bps", 0);
        o.put("bps_rd", 0);
        ObjectNode cache = o.putObject("cache");
        cache.put("no-flush", n.options().noFlush());
        cache.put("direct", n.options().cacheDirect());
        cache.put("writeback", true);
        o.put("file", n.filename());
        return o;
    }

    private static ObjectNode imageInfo(BlockNode n, boolean withBacking) {
        ObjectNode img = JSON.objectNode();
        if (withBacking && n instanceof BlkdebugNode) {
            img.set("backing-image", imageInfo(n.children().getFirst().node(), true));
        }
        long size;
        try {
            size = n.size();
        } catch (BlockIOException e) {
            size = 0;
        }
        img.put("virtual-size", size);
        img.put("filename", n.filename());
        img.put("format", n.driverName());
        n.actualSize().ifPresent(s -> img.put("actual-size", s));
        if (n.driverName().equals("file") || n.driverName().equals("raw")) {
            img.put("dirty-flag", false);
        }
        return img;
    }
}
