package dev.converge.block.qmp;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockBackend;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockNode;
import dev.converge.block.IoStats;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.Member;
import dev.converge.qmp.schema.ObjectType;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * query-blockstats (QEMU's qmp_query_blockstats and the types BlockStats, BlockDeviceStats,
 * BlockDeviceTimedStats): the per-node counters every request of a node's one request path
 * keeps ({@link IoStats}), for each named user (its root node, then recursively the node's
 * {@code file} child as {@code parent} and its backing node as {@code backing}), or with
 * {@code query-nodes} for every named node. Zoned-device and merge counters are 0 (converge
 * has neither); {@code timed_stats} is empty (no stats-intervals); failed and invalid
 * operations are always accounted. Main loop.
 */
public final class BlockStatsQmp {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
    /** How deep {@code parent}/{@code backing} nest in the schema (the answer follows the graph). */
    private static final int NESTING = 4;

    static final ObjectType TIMED_STATS = ObjectType.struct("BlockDeviceTimedStats",
            "Statistics of a virtual block device or a block backing device over an interval.",
            required("interval_length", BuiltinType.INT, "Interval used for calculating the statistics, in seconds"),
            required("min_rd_latency_ns", BuiltinType.INT, "Minimum latency of read operations"),
            required("max_rd_latency_ns", BuiltinType.INT, "Maximum latency of read operations"),
            required("avg_rd_latency_ns", BuiltinType.INT, "Average latency of read operations"),
            required("min_wr_latency_ns", BuiltinType.INT, "Minimum latency of write operations"),
            required("max_wr_latency_ns", BuiltinType.INT, "Maximum latency of write operations"),
            required("avg_wr_latency_ns", BuiltinType.INT, "Average latency of write operations"),
            required("min_flush_latency_ns", BuiltinType.INT, "Minimum latency of flush operations"),
            required("max_flush_latency_ns", BuiltinType.INT, "Maximum latency of flush operations"),
            required("avg_flush_latency_ns", BuiltinType.INT, "Average latency of flush operations"),
            required("avg_rd_queue_depth", BuiltinType.NUMBER, "Average number of pending read operations"),
            required("avg_wr_queue_depth", BuiltinType.NUMBER, "Average number of pending write operations"));

    static final ObjectType DEVICE_STATS = deviceStats();

    private static ObjectType deviceStats() {
        List<Member> m = new ArrayList<>();
        for (String[] f : new String[][] {
                {"rd_bytes", "The number of bytes read by the device"},
                {"wr_bytes", "The number of bytes written by the device (write-zeroes included)"},
                {"zone_append_bytes", "The number of bytes appended by the zoned devices (always 0)"},
                {"unmap_bytes", "The number of bytes unmapped by the device"},
                {"rd_operations", "The number of read operations performed by the device"},
                {"wr_operations", "The number of write operations performed by the device"},
                {"zone_append_operations", "The number of zone append operations (always 0)"},
                {"flush_operations", "The number of cache flush operations performed by the device"},
                {"unmap_operations", "The number of unmap operations performed by the device"},
                {"rd_total_time_ns", "Total time spent on reads in nanoseconds"},
                {"wr_total_time_ns", "Total time spent on writes in nanoseconds"},
                {"zone_append_total_time_ns", "Total time spent on zone append writes in nanoseconds (always 0)"},
                {"flush_total_time_ns", "Total time spent on cache flushes in nanoseconds"},
                {"unmap_total_time_ns", "Total time spent on unmap operations in nanoseconds"},
                {"wr_highest_offset", "The offset after the greatest byte written to the device"},
                {"rd_merged", "Number of read requests merged into another (always 0)"},
                {"wr_merged", "Number of write requests merged into another (always 0)"},
                {"zone_append_merged", "Number of zone append requests merged (always 0)"},
                {"unmap_merged", "Number of unmap requests merged into another (always 0)"}}) {
            m.add(required(f[0], BuiltinType.INT, f[1]));
        }
        m.add(optional("idle_time_ns", BuiltinType.INT, "Time since the last I/O operation, in nanoseconds; "
                + "absent before the first"));
        for (String op : List.of("rd", "wr", "zone_append", "flush", "unmap")) {
            m.add(required("failed_" + op + "_operations", BuiltinType.INT,
                    "The number of failed " + op + " operations performed by the device"));
        }
        for (String op : List.of("rd", "wr", "zone_append", "flush", "unmap")) {
            m.add(required("invalid_" + op + "_operations", BuiltinType.INT,
                    "The number of invalid " + op + " operations performed by the device"));
        }
        m.add(required("account_invalid", BuiltinType.BOOL, "Whether invalid operations are included in the "
                + "last access statistics (always true)"));
        m.add(required("account_failed", BuiltinType.BOOL, "Whether failed operations are included in the "
                + "latency and last access statistics (always true)"));
        m.add(required("timed_stats", new ArrayType(TIMED_STATS), "Statistics specific to the set of previously "
                + "defined intervals of time (none in converge)"));
        return ObjectType.struct("BlockDeviceStats", "Statistics of a virtual block device or a block backing "
                + "device.", m);
    }

    static final ObjectType BLOCK_STATS = blockStats(NESTING);

    private static ObjectType blockStats(int depth) {
        List<Member> m = new ArrayList<>(List.of(
                optional("device", BuiltinType.STR, "If the stats are for a virtual block device, the name "
                        + "corresponding to the virtual block device"),
                optional("qdev", BuiltinType.STR, "The qdev ID, or if no ID is assigned, the QOM path of the block "
                        + "device (never: converge has no guest devices)"),
                optional("node-name", BuiltinType.STR, "The node name of the device"),
                required("stats", DEVICE_STATS, "A BlockDeviceStats for the device")));
        if (depth > 0) {
            ObjectType below = blockStats(depth - 1);
            m.add(optional("parent", below, "The statistics of the node's file (protocol) child, recursively"));
            m.add(optional("backing", below, "The statistics of the node's backing node, recursively"));
        }
        String name = depth == NESTING ? "BlockStats" : "BlockStats-L" + (NESTING - depth + 1);
        return ObjectType.struct(name, "Statistics of a virtual block device or a block backing device.", m);
    }

    private final BlockGraph graph;

    private BlockStatsQmp(BlockGraph graph) {
        this.graph = Objects.requireNonNull(graph);
    }

    static void register(QmpRegistry registry, BlockGraph graph) {
        BlockStatsQmp q = new BlockStatsQmp(graph);
        registry.register(new CommandSpec("query-blockstats", CommandSpec.args("query-blockstats",
                optional("query-nodes", BuiltinType.BOOL, "If true, the command will query all the block nodes that "
                        + "have a node name, in a list which will include \"parent\" information, but not "
                        + "\"backing\". If false or omitted, the behavior is as before: query all the device "
                        + "backends, recursively including their \"parent\" and \"backing\".")),
                new ArrayType(BLOCK_STATS), "Query the BlockStats for all virtual block devices (named users of "
                        + "nodes), or all named nodes. The counters are kept per node in the request path.",
                MirrorSchema.SINCE, a -> q.query(a.bool("query-nodes", false))));
    }

    private JsonNode query(boolean queryNodes) {
        ArrayNode out = JSON.arrayNode();
        if (queryNodes) {
            for (BlockNode n : graph.nodes().reversed()) {
                out.add(stats(n, false, NESTING));
            }
            return out;
        }
        for (BlockBackend b : graph.backends()) {
            if (b.name() != null) {
                ObjectNode o = stats(b.node(), true, NESTING);
                ObjectNode withDevice = JSON.objectNode().put("device", b.name());
                withDevice.setAll(o);
                out.add(withDevice);
            }
        }
        return out;
    }

    /** QEMU's bdrv_query_bds_stats: the node's stats, its file child's as parent, its backing's as backing. */
    private static ObjectNode stats(BlockNode n, boolean withBacking, int depth) {
        ObjectNode o = JSON.objectNode();
        o.put("node-name", n.nodeName());
        o.set("stats", deviceStats(n.stats().snapshot()));
        if (depth > 0) {
            n.child("file").ifPresent(c -> o.set("parent", stats(c.node(), withBacking, depth - 1)));
            if (withBacking) {
                n.backing().ifPresent(b -> o.set("backing", stats(b, true, depth - 1)));
            }
        }
        return o;
    }

    /** The BlockDeviceStats of one snapshot (also what the metrics endpoint exports). */
    public static ObjectNode deviceStats(IoStats.Snapshot s) {
        ObjectNode o = JSON.objectNode();
        IoStats.Kind rd = IoStats.Kind.READ;
        IoStats.Kind wr = IoStats.Kind.WRITE;
        IoStats.Kind fl = IoStats.Kind.FLUSH;
        IoStats.Kind un = IoStats.Kind.UNMAP;
        o.put("rd_bytes", s.bytes(rd)).put("wr_bytes", s.bytes(wr)).put("zone_append_bytes", 0)
                .put("unmap_bytes", s.bytes(un));
        o.put("rd_operations", s.ops(rd)).put("wr_operations", s.ops(wr)).put("zone_append_operations", 0)
                .put("flush_operations", s.ops(fl)).put("unmap_operations", s.ops(un));
        o.put("rd_total_time_ns", s.timeNs(rd)).put("wr_total_time_ns", s.timeNs(wr))
                .put("zone_append_total_time_ns", 0).put("flush_total_time_ns", s.timeNs(fl))
                .put("unmap_total_time_ns", s.timeNs(un));
        o.put("wr_highest_offset", s.writeHighOffset());
        o.put("rd_merged", 0).put("wr_merged", 0).put("zone_append_merged", 0).put("unmap_merged", 0);
        if (s.idleNs() >= 0) {
            o.put("idle_time_ns", s.idleNs());
        }
        o.put("failed_rd_operations", s.failed(rd)).put("failed_wr_operations", s.failed(wr))
                .put("failed_zone_append_operations", 0).put("failed_flush_operations", s.failed(fl))
                .put("failed_unmap_operations", s.failed(un));
        o.put("invalid_rd_operations", s.invalid(rd)).put("invalid_wr_operations", s.invalid(wr))
                .put("invalid_zone_append_operations", 0).put("invalid_flush_operations", s.invalid(fl))
                .put("invalid_unmap_operations", s.invalid(un));
        o.put("account_invalid", true).put("account_failed", true);
        o.set("timed_stats", JSON.arrayNode());
        return o;
    }
}
