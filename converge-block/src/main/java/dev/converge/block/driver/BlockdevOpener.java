package dev.converge.block.driver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockNode;
import dev.converge.block.NodeNames;
import dev.converge.block.NodeOptions;
import dev.converge.qmp.QmpException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * Turns BlockdevOptions JSON into open nodes (QEMU's bdrv_open for blockdev-add): reads and
 * checks every option with QEMU's texts, resolves child references, opens inline children
 * first, and on any failure closes what it opened. It does not add anything to the graph:
 * {@link BlockGraph#blockdevAdd} does, once everything opened.
 * <p>
 * Inline children inherit read-only and the cache options from their parent and default to
 * discard=unmap, as QEMU's bdrv_inherited_options.
 */
public final class BlockdevOpener {
    /** The drivers we have: the values of the {@code driver} discriminator. */
    public static final List<String> DRIVERS = List.of("blkdebug", "file", "null-co", "raw");
    public static final List<String> DISCARD = List.of("ignore", "unmap");
    public static final List<String> DETECT_ZEROES = List.of("off", "on", "unmap");
    public static final List<String> ON_OFF_AUTO = List.of("auto", "on", "off");
    public static final List<String> AIO = List.of("threads", "native", "io_uring");
    public static final List<String> IO_TYPES = List.of("read", "write", "write-zeroes", "discard", "flush",
            "block-status");
    public static final List<String> PERMISSIONS = List.of("consistent-read", "write", "write-unchanged", "resize");
    /** QEMU's BlkdebugEvent values. */
    public static final List<String> BLKDEBUG_EVENTS = List.of("l1_update", "l1_grow_alloc_table",
            "l1_grow_write_table", "l1_grow_activate_table", "l2_load", "l2_update", "l2_update_compressed",
            "l2_alloc_cow_read", "l2_alloc_write", "read_aio", "read_backing_aio", "read_compressed", "write_aio",
            "write_compressed", "vmstate_load", "vmstate_save", "cow_read", "cow_write", "reftable_load",
            "reftable_grow", "reftable_update", "refblock_load", "refblock_update", "refblock_update_part",
            "refblock_alloc", "refblock_alloc_hookup", "refblock_alloc_write", "refblock_alloc_write_blocks",
            "refblock_alloc_write_table", "refblock_alloc_switch_table", "cluster_alloc", "cluster_alloc_bytes",
            "cluster_free", "flush_to_os", "flush_to_disk", "pwritev_rmw_head", "pwritev_rmw_after_head",
            "pwritev_rmw_tail", "pwritev_rmw_after_tail", "pwritev", "pwritev_zero", "pwritev_done",
            "empty_image_prepare", "l1_shrink_write_table", "l1_shrink_free_l2_clusters", "cor_write",
            "cluster_alloc_space", "none");

    /** The result of an open: the root and every node made for it, children before parents. */
    public record Opened(BlockNode root, List<BlockNode> created) {
    }

    private final BlockGraph graph;
    private final List<BlockNode> created = new ArrayList<>();
    private final Set<String> reserved = new HashSet<>();
    private final PreparedOpen prepared;

    private BlockdevOpener(BlockGraph graph, PreparedOpen prepared) {
        this.graph = graph;
        this.prepared = prepared;
    }

    /**
     * Opens the tree {@code options} describe. Main loop (it looks names up in the graph).
     *
     * @throws QmpException with QEMU's text; nothing stays open then
     */
    public static Opened open(BlockGraph graph, ObjectNode options) {
        return open(graph, options, PreparedOpen.none());
    }

    /**
     * As {@link #open(BlockGraph, ObjectNode)}, handing the drivers what their preparers made
     * (the caller closes {@code prepared} afterwards: what was not taken).
     */
    public static Opened open(BlockGraph graph, ObjectNode options, PreparedOpen prepared) {
        BlockdevOpener o = new BlockdevOpener(graph, prepared);
        try {
            BlockNode root = o.openNode(new Opts(options, ""), null);
            return new Opened(root, List.copyOf(o.created));
        } catch (RuntimeException e) {
            BlockGraph.discardUnregistered(o.created);
            throw e;
        }
    }

    private BlockNode openNode(Opts o, NodeOptions inherited) {
        String driver = o.requiredEnum("driver", drivers(graph));
        String name = nodeName(o);
        boolean unmap = o.optEnum("discard", DISCARD).map("unmap"::equals).orElse(inherited != null);
        Optional<Opts> cache = o.optObject("cache");
        boolean direct = false;
        boolean noFlush = false;
        if (cache.isPresent()) {
            direct = cache.get().optBool("direct").orElse(inherited != null && inherited.cacheDirect());
            noFlush = cache.get().optBool("no-flush").orElse(inherited != null && inherited.noFlush());
            cache.get().done();
        } else if (inherited != null) {
            direct = inherited.cacheDirect();
            noFlush = inherited.noFlush();
        }
        boolean ro = o.optBool("read-only").orElse(inherited != null && inherited.readOnly());
        o.optBool("auto-read-only");
        o.optBool("force-share");
        String detectZeroes = o.optEnum("detect-zeroes", DETECT_ZEROES).orElse("off");
        if (!detectZeroes.equals("off")) {
            throw QmpException.generic("detect-zeroes=%s is not supported by converge (only 'off')", detectZeroes);
        }
        NodeOptions nodeOptions = new NodeOptions(ro, unmap, direct, noFlush);
        try {
            BlockNode n = switch (driver) {
                case "file" -> openFile(o, name, nodeOptions);
                case "raw" -> openRaw(o, name, nodeOptions);
                case "null-co" -> openNull(o, name, nodeOptions);
                case "blkdebug" -> openBlkdebug(o, name, nodeOptions);
                default -> openPlugin(o, name, nodeOptions, graph.driver(driver).orElseThrow(
                        () -> new IllegalStateException("driver " + driver + " listed but not handled")));
            };
            created.add(n);
            return n;
        } catch (OpenException e) {
            throw QmpException.generic(e.getMessage());
        }
    }

    /** The node-name, checked as QEMU's bdrv_assign_node_name, or a generated one. */
    private String nodeName(Opts o) {
        Optional<String> given = o.optStr("node-name");
        if (given.isEmpty()) {
            String gen;
            do {
                gen = NodeNames.generate();
            } while (reserved.contains(gen) || graph.find(gen).isPresent());
            reserved.add(gen);
            return gen;
        }
        String name = given.get();
        if (!NodeNames.wellFormed(name)) {
            throw QmpException.generic("Invalid node-name: '%s'", name);
        }
        graph.checkNameFree(name);
        if (reserved.contains(name)) {
            throw QmpException.generic("Duplicate nodes with node-name='%s'", name);
        }
        if (name.length() > NodeNames.MAX_LENGTH) {
            throw QmpException.generic("Node name too long");
        }
        reserved.add(name);
        return name;
    }

    /** The built-in drivers and those other modules added ({@link BlockGraph#addDriver}), sorted. */
    public static List<String> drivers(BlockGraph graph) {
        List<String> all = new ArrayList<>(DRIVERS);
        graph.drivers().forEach(p -> all.add(p.name()));
        all.sort(null);
        return List.copyOf(all);
    }

    private BlockNode openPlugin(Opts o, String name, NodeOptions opts, BlockDriverPlugin plugin) {
        ObjectNode own = o.take(plugin.options().members().stream().map(m -> m.name()).toList());
        o.done();
        return plugin.opener().open(name, opts, own, prepared.take(own));
    }

    private BlockNode openFile(Opts o, String name, NodeOptions opts) throws OpenException {
        String filename = o.str("filename");
        o.optStr("pr-manager").ifPresent(p -> {
            throw QmpException.generic("pr-manager is not supported by converge");
        });
        o.optEnum("locking", ON_OFF_AUTO); // accepted; converge takes no image locks (documented)
        o.optEnum("aio", AIO); // accepted; I/O is blocking calls on the caller's (virtual) thread
        o.optInt("aio-max-batch", false);
        o.optBool("drop-cache");
        o.optBool("x-check-cache-dropped");
        o.done();
        return FileNode.open(name, opts, filename);
    }

    private BlockNode openRaw(Opts o, String name, NodeOptions opts) throws OpenException {
        JsonNode fileRef = o.ref("file");
        long offset = o.optInt("offset", true).orElse(0);
        OptionalLong size = o.optInt("size", true);
        o.done();
        BlockNode file = child(o, "file", fileRef, opts);
        return RawNode.open(name, opts, file, offset, size);
    }

    private BlockNode openNull(Opts o, String name, NodeOptions opts) {
        long size = o.optInt("size", true).orElse(NullNode.DEFAULT_SIZE);
        long latency = o.optInt("latency-ns", true).orElse(0);
        boolean readZeroes = o.optBool("read-zeroes").orElse(false);
        o.done();
        return new NullNode(name, opts, size, readZeroes, latency);
    }

    private BlockNode openBlkdebug(Opts o, String name, NodeOptions opts) {
        JsonNode imageRef = o.ref("image");
        o.optStr("config").ifPresent(c -> {
            throw QmpException.generic("blkdebug config files are not supported by converge; use inject-error");
        });
        OptionalLong align = o.optInt("align", false);
        if (align.isPresent() && (align.getAsLong() <= 0 || align.getAsLong() >= Integer.MAX_VALUE
                || Long.bitCount(align.getAsLong()) != 1)) {
            throw QmpException.generic("Invalid alignment");
        }
        for (String limit : List.of("max-transfer", "opt-write-zero", "max-write-zero", "opt-discard", "max-discard")) {
            o.optInt(limit, false); // request-size hints: accepted, converge does not split requests
        }
        List<BlkdebugNode.InjectError> rules = new ArrayList<>();
        for (Opts r : o.optObjectList("inject-error")) {
            String event = r.requiredEnum("event", BLKDEBUG_EVENTS);
            long state = r.optInt("state", false).orElse(0);
            Set<BlkdebugNode.IoType> types = r.optEnum("iotype", IO_TYPES)
                    .map(t -> (Set<BlkdebugNode.IoType>) EnumSet.of(BlkdebugNode.IoType.values()[IO_TYPES.indexOf(t)]))
                    .orElse(BlkdebugNode.IoType.DEFAULT);
            long errno = r.optInt("errno", false).orElse(5);
            long sector = r.optInt("sector", false).orElse(-1);
            boolean once = r.optBool("once").orElse(false);
            r.optBool("immediately");
            r.done();
            if (errno < 0 || errno > 4095) {
                throw QmpException.generic("Invalid parameter 'errno'");
            }
            rules.add(new BlkdebugNode.InjectError(event, state, types, (int) errno, sector, once));
        }
        List<BlkdebugNode.SetState> setStates = new ArrayList<>();
        for (Opts r : o.optObjectList("set-state")) {
            String event = r.requiredEnum("event", BLKDEBUG_EVENTS);
            long state = r.optInt("state", false).orElse(0);
            OptionalLong newState = r.optInt("new_state", false);
            r.done();
            if (newState.isEmpty()) {
                throw QmpException.generic("Parameter '%s' is missing", r.path("new_state"));
            }
            setStates.add(new BlkdebugNode.SetState(event, state, newState.getAsLong()));
        }
        o.optEnumList("take-child-perms", PERMISSIONS);
        o.optEnumList("unshare-child-perms", PERMISSIONS);
        o.done();
        BlockNode image = child(o, "image", imageRef, opts);
        return new BlkdebugNode(name, opts, image, rules, setStates);
    }

    /** Resolves a BlockdevRef: an existing node by name, or an inline node opened now. */
    private BlockNode child(Opts parent, String role, JsonNode ref, NodeOptions parentOpts) {
        BlockNode child;
        if (ref.isTextual()) {
            child = graph.lookup(ref.asText());
        } else {
            child = openNode(new Opts((ObjectNode) ref, parent.path(role) + "."), parentOpts.withDiscardUnmap(true));
        }
        if (child.readOnly() && !parentOpts.readOnly()) {
            throw QmpException.generic("Block node is read-only");
        }
        return child;
    }
}
