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
import dev.converge.block.bitmap.BitmapException;
import dev.converge.block.bitmap.BitmapStorage;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.block.bitmap.DirtyBitmap.Use;
import dev.converge.block.driver.qcow2.Qcow2Node;
import dev.converge.job.qmp.TransactionQmp;
import dev.converge.qmp.Args;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.AlternateType;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.ObjectType;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The dirty bitmap QMP commands (QEMU's block/monitor/bitmap-qmp-cmds.c) and their
 * {@code transaction} actions (QEMU's blockdev.c): {@code block-dirty-bitmap-add}, {@code -remove},
 * {@code -clear}, {@code -enable}, {@code -disable}, {@code -merge}.
 * <p>
 * Every command is one {@link Step}: {@code prepare} checks (QEMU's order and texts) and makes
 * the change, so that a later action of the same transaction sees it (a backup of a bitmap added
 * just before); {@code commit} keeps it, {@code abort} undoes it. The plain command is prepare
 * then commit. Bits cleared or merged by an aborted action come back exactly, and no write made
 * meanwhile is lost ({@link DirtyBitmap#beginChange}). Main loop.
 */
public final class BitmapQmp {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
    /** QEMU's bitmap granularity when the node has no cluster size. */
    private static final long DEFAULT_GRANULARITY = 65536;

    /** QEMU's BlockDirtyBitmap: a bitmap given as {node, name} (also in block-export-add's bitmaps). */
    public static final ObjectType BLOCK_DIRTY_BITMAP = ObjectType.struct("BlockDirtyBitmap", "A dirty bitmap of a node.",
            required("node", BuiltinType.STR, "name of the device or node which the bitmap is tracking"),
            required("name", BuiltinType.STR, "name of the dirty bitmap"));
    static final ObjectType BLOCK_DIRTY_BITMAP_ADD = ObjectType.struct("BlockDirtyBitmapAdd",
            "Arguments of block-dirty-bitmap-add.",
            required("node", BuiltinType.STR, "name of the device or node which the bitmap is tracking"),
            required("name", BuiltinType.STR, "name of the dirty bitmap (must be unique on the node, at most 1023 "
                    + "characters)"),
            optional("granularity", BuiltinType.UINT32, "bytes per bit: a power of two, at least 512; default the "
                    + "node's cluster size clamped to [4096, 65536], 65536 without one"),
            optional("persistent", BuiltinType.BOOL, "store the bitmap in the image (qcow2 v3 only; written when the "
                    + "node closes); default false"),
            optional("disabled", BuiltinType.BOOL, "create the bitmap without recording writes; default false"));
    static final AlternateType MERGE_SOURCE = new AlternateType("BlockDirtyBitmapMergeSource",
            List.of(BuiltinType.STR, BLOCK_DIRTY_BITMAP),
            "a bitmap of the target's node by name, or any node's bitmap as {node, name}");
    static final ObjectType BLOCK_DIRTY_BITMAP_MERGE = ObjectType.struct("BlockDirtyBitmapMerge",
            "Arguments of block-dirty-bitmap-merge.",
            required("node", BuiltinType.STR, "name of the device or node of the target bitmap"),
            required("target", BuiltinType.STR, "name of the target dirty bitmap"),
            required("bitmaps", new ArrayType(MERGE_SOURCE), "the bitmaps to merge into the target, all of the "
                    + "target's size"));

    /** A prepared bitmap change: exactly one of commit or abort follows. */
    interface Step extends TransactionQmp.Prepared {
        Step DONE = new Step() {
            @Override
            public void commit() {
            }

            @Override
            public void abort() {
            }
        };
    }

    @FunctionalInterface
    private interface Preparer {
        Step prepare(Args args) throws BitmapException;
    }

    private record Command(String name, ObjectType args, String doc, Preparer preparer) {
    }

    private final BlockGraph graph;
    private final List<Command> commands;

    public BitmapQmp(BlockGraph graph) {
        this.graph = Objects.requireNonNull(graph);
        this.commands = List.of(
                new Command("block-dirty-bitmap-add", BLOCK_DIRTY_BITMAP_ADD,
                        "Creates a dirty bitmap that records every write to the node from now on.", this::add),
                new Command("block-dirty-bitmap-remove", BLOCK_DIRTY_BITMAP,
                        "Stops write tracking and removes the dirty bitmap (from the image too when persistent).",
                        this::remove),
                new Command("block-dirty-bitmap-clear", BLOCK_DIRTY_BITMAP,
                        "Clears (resets) the dirty bitmap: no byte is dirty afterwards.", this::clear),
                new Command("block-dirty-bitmap-enable", BLOCK_DIRTY_BITMAP,
                        "Enables the dirty bitmap: it records writes again.", a -> setEnabled(a, true)),
                new Command("block-dirty-bitmap-disable", BLOCK_DIRTY_BITMAP,
                        "Disables the dirty bitmap: it stops recording writes.", a -> setEnabled(a, false)),
                new Command("block-dirty-bitmap-merge", BLOCK_DIRTY_BITMAP_MERGE,
                        "Merges dirty bitmaps into a target bitmap: every byte dirty in one of them becomes dirty "
                                + "in the target. The target is unchanged when any source is refused.",
                        this::merge));
    }

    /** Registers the six commands. */
    public void register(QmpRegistry registry) {
        for (Command c : commands) {
            registry.register(new CommandSpec(c.name(), c.args(), CommandSpec.EMPTY, c.doc(), "0.1", args -> {
                prepare(c, args).commit();
                return null;
            }));
        }
    }

    /** Registers the six commands as {@code transaction} actions of the same names. Wiring time. */
    public void registerTransactionActions(TransactionQmp transactions) {
        for (Command c : commands) {
            transactions.registerAction(c.name(), c.args(), (data, txn) -> {
                if (txn != null) {
                    // QEMU: only backup actions may be grouped
                    throw QmpException.generic("Action '%s' does not support transaction property "
                            + "completion-mode = grouped", c.name());
                }
                return prepare(c, new Args(data));
            });
        }
    }

    private static Step prepare(Command c, Args args) {
        try {
            return c.preparer().prepare(args);
        } catch (BitmapException e) {
            throw QmpException.generic("%s", e.getMessage());
        }
    }

    // ---------------------------------------------------------------- the steps

    private Step add(Args a) throws BitmapException {
        String name = a.str("name");
        if (name.isEmpty()) {
            throw new BitmapException("Bitmap name cannot be empty");
        }
        BlockNode n = graph.lookup(a.str("node"));
        long granularity;
        if (a.has("granularity")) {
            granularity = a.integer("granularity");
            if (!DirtyBitmap.isValidGranularity(granularity)) {
                throw new BitmapException("Granularity must be power of 2 and at least 512");
            }
        } else {
            granularity = defaultGranularity(n);
        }
        boolean persistent = a.bool("persistent", false);
        if (persistent) {
            BitmapStorage storage = n.bitmapStorage().orElseThrow(
                    () -> new BitmapException("Can't store persistent bitmaps to " + deviceOrNodeName(n)));
            try {
                storage.checkCanStore(name, granularity);
            } catch (BitmapException e) {
                throw new BitmapException("Can't make bitmap '" + name + "' persistent in '" + deviceOrNodeName(n)
                        + "': " + e.getMessage());
            }
        }
        DirtyBitmap b = n.bitmaps().add(name, granularity, size(n));
        if (a.bool("disabled", false)) {
            b.setEnabled(false);
        }
        b.setPersistent(persistent);
        return new Step() {
            @Override
            public void commit() {
            }

            @Override
            public void abort() {
                n.bitmaps().remove(b);
            }
        };
    }

    private Step remove(Args a) throws BitmapException {
        BlockNode n = lookupNode(a.str("node"));
        DirtyBitmap b = lookupBitmap(n, a.str("name"));
        b.check(java.util.EnumSet.of(Use.BUSY, Use.READONLY));
        if (b.persistent()) {
            // As QEMU: gone from the image at once; an aborted transaction stores it again at close.
            Optional<BitmapStorage> storage = n.bitmapStorage();
            if (storage.isPresent()) {
                storage.get().remove(b.name());
            }
        }
        b.setBusy(true); // nobody else may take it before commit
        return new Step() {
            @Override
            public void commit() {
                b.setBusy(false);
                n.bitmaps().remove(b);
            }

            @Override
            public void abort() {
                b.setBusy(false);
            }
        };
    }

    private Step clear(Args a) throws BitmapException {
        DirtyBitmap b = lookupBitmap(lookupNode(a.str("node")), a.str("name"));
        b.check(Use.MODIFY);
        return change(b, b::clear);
    }

    private Step setEnabled(Args a, boolean enable) throws BitmapException {
        DirtyBitmap b = lookupBitmap(lookupNode(a.str("node")), a.str("name"));
        b.check(Use.ALLOW_READONLY);
        boolean was = b.enabled();
        b.setEnabled(enable);
        return new Step() {
            @Override
            public void commit() {
            }

            @Override
            public void abort() {
                b.setEnabled(was);
            }
        };
    }

    /** QEMU's order: every source is merged into a scratch copy first, then the copy into the target. */
    private Step merge(Args a) throws BitmapException {
        BlockNode n = lookupNode(a.str("node"));
        DirtyBitmap dst = lookupBitmap(n, a.str("target"));
        DirtyBitmap scratch = new DirtyBitmap(null, dst.granularity(), dst.length());
        for (JsonNode s : a.raw("bitmaps")) {
            DirtyBitmap src;
            if (s.isTextual()) {
                src = n.dirtyBitmap(s.asText())
                        .orElseThrow(() -> new BitmapException("Dirty bitmap '" + s.asText() + "' not found"));
            } else {
                src = lookupBitmap(lookupNode(s.get("node").asText()), s.get("name").asText());
            }
            src.check(java.util.EnumSet.of(Use.INCONSISTENT));
            scratch.merge(src);
        }
        dst.check(Use.MODIFY);
        if (dst.length() != scratch.length()) {
            throw new IllegalStateException("scratch copy of another size");
        }
        return change(dst, () -> {
            try {
                dst.merge(scratch);
            } catch (BitmapException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** Applies {@code change} to the bits of {@code b}, undone exactly by abort. */
    private static Step change(DirtyBitmap b, Runnable change) {
        DirtyBitmap.Change c = b.beginChange();
        change.run();
        return new Step() {
            @Override
            public void commit() {
                c.commit();
            }

            @Override
            public void abort() {
                c.rollback();
            }
        };
    }

    // ---------------------------------------------------------------- lookups

    /** QEMU's block_dirty_bitmap_lookup node part: a device or node name, "Node 'X' not found". */
    private BlockNode lookupNode(String name) throws BitmapException {
        for (BlockBackend b : graph.backends()) {
            if (name.equals(b.name())) {
                return b.node();
            }
        }
        Optional<BlockNode> n = graph.find(name);
        if (n.isEmpty()) {
            throw new BitmapException("Node '" + name + "' not found");
        }
        return n.get();
    }

    private static DirtyBitmap lookupBitmap(BlockNode n, String name) throws BitmapException {
        return n.dirtyBitmap(name).orElseThrow(() -> new BitmapException("Dirty bitmap '" + name + "' not found"));
    }

    /** QEMU's bdrv_get_default_bitmap_granularity: the cluster size clamped to [4 KiB, 64 KiB]. */
    static long defaultGranularity(BlockNode n) {
        if (n instanceof Qcow2Node q) {
            return Math.min(65536, Math.max(4096, q.clusterSize()));
        }
        return DEFAULT_GRANULARITY;
    }

    /** QEMU's bdrv_get_device_or_node_name: the name of a backend on the node, else its node name. */
    private String deviceOrNodeName(BlockNode n) {
        for (BlockBackend b : graph.backends()) {
            if (b.node() == n && b.name() != null) {
                return b.name();
            }
        }
        return n.nodeName();
    }

    private static long size(BlockNode n) throws BitmapException {
        try {
            return n.size();
        } catch (dev.converge.block.BlockIOException e) {
            throw new BitmapException("could not get length of device: " + e.getMessage());
        }
    }

    // ---------------------------------------------------------------- query

    /** The {@code dirty-bitmaps} member of a node's BlockDeviceInfo (QEMU's BlockDirtyInfo), newest first. */
    static Optional<ArrayNode> dirtyBitmapsInfo(BlockNode n) {
        List<DirtyBitmap> bitmaps = n.dirtyBitmaps().reversed();
        if (bitmaps.isEmpty()) {
            return Optional.empty();
        }
        ArrayNode a = JSON.arrayNode();
        for (DirtyBitmap b : bitmaps) {
            ObjectNode d = a.addObject();
            if (b.name() != null) {
                d.put("name", b.name());
            }
            d.put("recording", b.recording());
            d.put("persistent", b.persistent());
            d.put("busy", b.busy());
            d.put("granularity", b.granularity());
            d.put("count", b.dirtyBytes());
            if (b.inconsistent()) {
                d.put("inconsistent", true);
            }
        }
        return Optional.of(a);
    }
}
