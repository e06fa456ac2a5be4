package dev.converge.block.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BackingChain;
import dev.converge.block.BlockChild;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.qmp.Args;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.Member;
import dev.converge.qmp.schema.ObjectType;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * blockdev-reopen (QEMU's qmp_blockdev_reopen): every entry names a node by {@code node-name}
 * and gives its options as blockdev-add would; options left out take their defaults (so
 * {@code read-only} left out means read-write), as QEMU. What converge can change:
 * {@code read-only} (the node and the children it opened inline, children first when becoming
 * writable) and {@code backing} (a node name, or null to detach; it must be given while the
 * node has one, as QEMU requires). Every other option must repeat the node's current value
 * ("Cannot change the option 'X'"). The list is atomic: all entries are checked before any
 * changes, and read-only changes already made are undone when a later one fails. Main loop.
 */
final class BlockdevReopenQmp {
    /** Options that may be given with their current (or default) value and are not changed. */
    private static final Set<String> ACCEPTED = Set.of("auto-read-only", "force-share");

    private final BlockGraph graph;

    private BlockdevReopenQmp(BlockGraph graph) {
        this.graph = Objects.requireNonNull(graph);
    }

    static void register(QmpRegistry registry, BlockGraph graph) {
        BlockdevReopenQmp q = new BlockdevReopenQmp(graph);
        ObjectType options = registry.command("blockdev-add").map(CommandSpec::arguments)
                .orElse(BlockSchema.BLOCKDEV_OPTIONS);
        registry.register(new CommandSpec("blockdev-reopen", CommandSpec.args("blockdev-reopen",
                Member.required("options", new ArrayType(options), "the nodes to reopen, each with its options")),
                CommandSpec.EMPTY,
                "Reopens one or more block nodes with the given options, all or none. Options not given are reset "
                        + "to their defaults. converge changes 'read-only' and 'backing' (a node, or null); other "
                        + "options must keep their values ('Cannot change the option 'X'').",
                MirrorSchema.SINCE, q::reopen));
    }

    /** One entry, checked: what changes. */
    private record Change(BlockNode node, boolean readOnly, Optional<Optional<BlockNode>> backing) {
    }

    private JsonNode reopen(Args a) {
        List<Change> changes = new ArrayList<>();
        for (JsonNode entry : a.raw("options")) {
            changes.add(check((ObjectNode) entry));
        }
        List<BlockNode> madeReadOnly = new ArrayList<>();
        List<BlockNode> madeWritable = new ArrayList<>();
        try {
            for (Change c : changes) {
                if (c.readOnly() != c.node().readOnly()) {
                    graph.reopenReadOnly(c.node(), c.readOnly());
                    (c.readOnly() ? madeReadOnly : madeWritable).add(c.node());
                }
            }
            for (Change c : changes) {
                if (c.backing().isPresent() && c.backing().get().orElse(null) != c.node().backing().orElse(null)) {
                    graph.replaceBacking(c.node(), c.backing().get().orElse(null));
                }
            }
        } catch (BlockIOException e) {
            undo(madeReadOnly, true);
            undo(madeWritable, false);
            throw QmpException.generic(e.getMessage());
        }
        return null;
    }

    private void undo(List<BlockNode> nodes, boolean wasMadeReadOnly) {
        for (BlockNode n : nodes.reversed()) {
            try {
                graph.reopenReadOnly(n, !wasMadeReadOnly);
            } catch (BlockIOException e) {
                System.getLogger(BlockdevReopenQmp.class.getName()).log(System.Logger.Level.WARNING,
                        "blockdev-reopen: could not undo the change of '" + n.nodeName() + "': " + e.getMessage());
            }
        }
    }

    /** QEMU's bdrv_reopen_prepare checks for one entry; nothing changes here. */
    private Change check(ObjectNode o) {
        JsonNode nameNode = o.get("node-name");
        if (nameNode == null || !nameNode.isTextual()) {
            throw QmpException.generic("node-name not specified");
        }
        String name = nameNode.asText();
        BlockNode node = graph.find(name).orElseThrow(
                () -> QmpException.generic("Failed to find node with node-name='%s'", name));
        if (!node.driverName().equals(o.path("driver").asText())) {
            throw QmpException.generic("Cannot change the option 'driver'");
        }
        boolean readOnly = o.path("read-only").asBoolean(false);
        Optional<Optional<BlockNode>> backing = Optional.empty();
        for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> f = it.next();
            String key = f.getKey();
            JsonNode v = f.getValue();
            switch (key) {
                case "driver", "node-name", "read-only" -> {
                }
                case "backing" -> backing = Optional.of(backing(node, v));
                case "file" -> {
                    BlockNode current = node.child("file").map(BlockChild::node).orElse(null);
                    if (current == null || !v.isTextual() || !v.asText().equals(current.nodeName())) {
                        throw QmpException.generic("Cannot change the option 'file'");
                    }
                }
                case "filename" -> {
                    if (!v.asText().equals(node.filename())) {
                        throw QmpException.generic("Cannot change the option 'filename'");
                    }
                }
                case "discard" -> {
                    if (v.asText().equals("unmap") != node.options().discardUnmap()) {
                        throw QmpException.generic("Cannot change the option 'discard'");
                    }
                }
                case "detect-zeroes" -> {
                    if (!v.asText().equals("off")) {
                        throw QmpException.generic("Cannot change the option 'detect-zeroes'");
                    }
                }
                case "cache" -> {
                    if (v.path("direct").asBoolean(false) != node.options().cacheDirect()
                            || v.path("no-flush").asBoolean(false) != node.options().noFlush()) {
                        throw QmpException.generic("Cannot change the option 'cache'");
                    }
                }
                default -> {
                    if (!ACCEPTED.contains(key)) {
                        throw QmpException.generic("Cannot change the option '%s'", key);
                    }
                }
            }
        }
        if (backing.isEmpty() && node.backing().isPresent()) {
            throw QmpException.generic("backing is missing for '%s'", name);
        }
        if (readOnly) {
            for (BlockChild c : node.parents()) {
                BlockNode parent = c.parentNode();
                if (parent != null && !parent.readOnly() && !c.role().equals("backing")) {
                    throw QmpException.generic("Conflicts with use by %s as '%s', which uses 'write' on %s",
                            parent.nodeName(), c.role(), name);
                }
            }
        }
        return new Change(node, readOnly, backing);
    }

    /** The new backing: null to detach, a node name to attach (never a cycle); an inline definition is refused. */
    private Optional<BlockNode> backing(BlockNode node, JsonNode v) {
        if (v.isNull()) {
            return Optional.empty();
        }
        if (!v.isTextual()) {
            throw QmpException.generic("converge's blockdev-reopen takes 'backing' as a node name or null");
        }
        BlockNode b = graph.find(v.asText()).orElseThrow(
                () -> QmpException.generic("Cannot find device='' nor node-name='%s'", v.asText()));
        if (BackingChain.contains(b, node) || b == node) {
            throw QmpException.generic("Making '%s' a backing child of '%s' would create a cycle", b.nodeName(),
                    node.nodeName());
        }
        return Optional.of(b);
    }
}
