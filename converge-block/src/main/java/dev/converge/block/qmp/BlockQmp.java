package dev.converge.block.qmp;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockBackend;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.driver.BlkdebugNode;
import dev.converge.block.driver.qcow2.Qcow2Node;
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
 * blockdev-add, blockdev-del, query-named-block-nodes, query-block, block_resize, and the dirty
 * bitmap commands of {@link BitmapQmp}. Handlers run on the main loop, as the graph requires; user errors carry QEMU's texts.
 */
public final class BlockQmp {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private final BlockGraph graph;
    private final BitmapQmp bitmaps;

    public BlockQmp(BlockGraph graph) {
        this.graph = Objects.requireNonNull(graph);
        this.bitmaps = new BitmapQmp(graph);
    }

    /** The dirty bitmap commands, registered with the others; their transaction actions go through here. */
    public BitmapQmp bitmaps() {
        return bitmaps;
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
        registry.register(new CommandSpec("block_resize", CommandSpec.args("block_resize",
                optional("device", BuiltinType.STR, "the name of the device to get the image resized"),
                optional("node-name", BuiltinType.STR, "graph node name to get the image resized"),
                required("size", BuiltinType.INT, "new image size in bytes")),
                CommandSpec.EMPTY, "Resizes a block image while a guest is running (file and qcow2 nodes; qcow2 "
                        + "only grows).", "0.1", args -> {
                    blockResize(args.optStr("device").orElse(null), args.optStr("node-name").orElse(null),
                            args.integer("size", -1));
                    return null;
                }));
        registry.register(new CommandSpec("query-block", CommandSpec.EMPTY, new ArrayType(BlockSchema.BLOCK_INFO),
                "Gets a list of BlockInfo for the named users (backends) of block nodes.", "0.1",
                args -> queryBlock()));
        bitmaps.register(registry);
    }

    /** block_resize with QEMU's checks and texts. Main loop; the node is drained while it changes. */
    void blockResize(String device, String nodeName, long size) {
        if (device == null && nodeName == null) {
            throw QmpException.generic("Cannot find device='' nor node-name=''");
        }
        if (size < 0) {
            throw QmpException.generic("Parameter 'size' expects a >0 size");
        }
        BlockNode n = graph.lookup(device != null ? device : nodeName);
        try (dev.converge.block.DrainedSection d = n.drain()) {
            n.resize(size);
        } catch (BlockIOException e) {
            throw QmpException.generic("%s", e.getMessage());
        }
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
            n = dev.converge.qmp.wire.QmpJson.parse(json);
        } catch (dev.converge.qmp.wire.QmpJson.ParseException e) {
            throw QmpException.generic("Invalid JSON in --blockdev: %s", e.detail());
        }
        if (n == null || !n.isObject()) {
            throw QmpException.generic("--blockdev expects a JSON object");
        }
        return (ObjectNode) n;
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
        if (n instanceof Qcow2Node q && q.backingFileName().isPresent()) {
            o.put("backing_file", q.backingFileName().get());
        }
        o.put("iops_wr", 0);
        o.put("ro", n.readOnly());
        o.put("node-name", n.nodeName());
        o.put("backing_file_depth", filter ? 1 : backingDepth(n));
        o.put("drv", n.driverName());
        o.put("iops", 0);
        o.put("bps_wr", 0);
        o.put("write_threshold", 0);
        BitmapQmp.dirtyBitmapsInfo(n).ifPresent(a -> o.set("dirty-bitmaps", a));
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

    /** Nodes below {@code n} in its backing chain. */
    private static int backingDepth(BlockNode n) {
        int depth = 0;
        while (n instanceof Qcow2Node q && q.backingNode().isPresent()) {
            depth++;
            n = q.backingNode().get();
        }
        return depth;
    }

    private static ObjectNode imageInfo(BlockNode n, boolean withBacking) {
        ObjectNode img = JSON.objectNode();
        if (withBacking && n instanceof BlkdebugNode) {
            img.set("backing-image", imageInfo(n.children().getFirst().node(), true));
        }
        if (n instanceof Qcow2Node q) {
            if (withBacking && q.backingNode().isPresent()) {
                img.set("backing-image", imageInfo(q.backingNode().get(), true));
            }
            q.backingFileName().ifPresent(b -> img.put("backing-filename", b));
            q.backingNode().ifPresent(b -> img.put("full-backing-filename", b.filename()));
            q.backingFormat().ifPresent(f -> img.put("backing-filename-format", f));
            img.put("cluster-size", q.clusterSize());
            img.put("dirty-flag", false);
            ObjectNode spec = img.putObject("format-specific");
            spec.put("type", "qcow2");
            ObjectNode data = spec.putObject("data");
            data.put("compat", q.version() >= 3 ? "1.1" : "0.10");
            if (q.version() >= 3) {
                data.put("compression-type", "zlib");
                data.put("lazy-refcounts", q.lazyRefcounts());
                data.put("corrupt", q.corrupt());
                data.put("extended-l2", q.extendedL2());
            }
            data.put("refcount-bits", q.refcountBits());
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
