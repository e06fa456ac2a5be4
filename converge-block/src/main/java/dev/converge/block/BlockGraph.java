package dev.converge.block;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.driver.BlockdevOpener;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The block graph of a daemon: every node by name, which of them the monitor owns (added by
 * blockdev-add, so blockdev-del may remove them), and the backends that use nodes.
 * <p>
 * Management state: every method that reads or changes the graph runs on the main loop and
 * fails with IllegalStateException elsewhere (a bug in the caller). I/O never needs the graph.
 * User errors are {@link QmpException}s with QEMU's texts, and leave the graph unchanged.
 */
public final class BlockGraph {
    private final MainLoop mainLoop;
    /** Nodes by name, in creation order. Main loop only. */
    private final Map<String, BlockNode> nodes = new LinkedHashMap<>();
    /** Nodes added by blockdev-add (QEMU's monitor_bdrv_states). Main loop only. */
    private final Set<BlockNode> monitorOwned = new HashSet<>();
    /** Backends, named and anonymous, in creation order. Main loop only. */
    private final List<BlockBackend> backends = new ArrayList<>();

    /**
     * Drivers added by other modules, by name. Added during wiring (any thread) and read by
     * blockdev-add on the main loop, hence a concurrent map.
     */
    private final Map<String, dev.converge.block.driver.BlockDriverPlugin> driverPlugins =
            new java.util.concurrent.ConcurrentSkipListMap<>();

    public BlockGraph(MainLoop mainLoop) {
        this.mainLoop = Objects.requireNonNull(mainLoop);
    }

    public MainLoop mainLoop() {
        return mainLoop;
    }

    private void checkMainLoop() {
        if (!mainLoop.inMainLoop()) {
            throw new IllegalStateException("the block graph is changed and read on the main loop only; called on "
                    + Thread.currentThread().getName());
        }
    }

    // ---------------------------------------------------------------- drivers of other modules

    /** Adds a driver for blockdev-add; its name must not be a built-in driver's or another's. */
    public void addDriver(dev.converge.block.driver.BlockDriverPlugin plugin) {
        if (BlockdevOpener.DRIVERS.contains(plugin.name())
                || driverPlugins.putIfAbsent(plugin.name(), plugin) != null) {
            throw new IllegalStateException("block driver added twice: " + plugin.name());
        }
    }

    /** The drivers other modules added, by name. Any thread. */
    public List<dev.converge.block.driver.BlockDriverPlugin> drivers() {
        return List.copyOf(driverPlugins.values());
    }

    /** The added driver named {@code name}, if any. Any thread. */
    public Optional<dev.converge.block.driver.BlockDriverPlugin> driver(String name) {
        return Optional.ofNullable(driverPlugins.get(name));
    }

    // ---------------------------------------------------------------- lookups

    /** The node named {@code nodeName}, if any. */
    public Optional<BlockNode> find(String nodeName) {
        checkMainLoop();
        return Optional.ofNullable(nodes.get(nodeName));
    }

    /** QEMU's bdrv_lookup_bs(name, name): a backend's node by device name, else a node by name. */
    public BlockNode lookup(String name) {
        checkMainLoop();
        for (BlockBackend b : backends) {
            if (name.equals(b.name())) {
                return b.node();
            }
        }
        BlockNode n = nodes.get(name);
        if (n == null) {
            throw QmpException.generic("Cannot find device='%s' nor node-name='%s'", name, name);
        }
        return n;
    }

    /** All nodes, newest first (the order query-named-block-nodes shows in QEMU). */
    public List<BlockNode> nodes() {
        checkMainLoop();
        List<BlockNode> l = new ArrayList<>(nodes.values());
        Collections.reverse(l);
        return l;
    }

    /** Whether blockdev-add made the node (blockdev-del may remove it). */
    public boolean isMonitorOwned(BlockNode node) {
        checkMainLoop();
        return monitorOwned.contains(node);
    }

    /** All backends in creation order. */
    public List<BlockBackend> backends() {
        checkMainLoop();
        return List.copyOf(backends);
    }

    // ---------------------------------------------------------------- adding and removing nodes

    /**
     * blockdev-add: opens the node tree that {@code options} describe (QEMU's BlockdevOptions,
     * the same JSON as the command's arguments, also what {@code --blockdev} takes) and adds it.
     * The root becomes monitor-owned; inline children are owned by their parent.
     *
     * @return the root node
     * @throws QmpException with QEMU's message when the options are wrong or opening fails;
     *         nothing is added then
     */
    public BlockNode blockdevAdd(ObjectNode options) {
        return blockdevAdd(options, dev.converge.block.driver.PreparedOpen.none());
    }

    /**
     * The blocking part of a blockdev-add (the preparers of drivers such as nbd: connect and
     * handshake), for {@link #blockdevAdd(ObjectNode, dev.converge.block.driver.PreparedOpen)}.
     * Any thread but the main loop; the caller closes the result after the add.
     */
    public dev.converge.block.driver.PreparedOpen prepareBlockdevAdd(ObjectNode options) {
        return dev.converge.block.driver.PreparedOpen.prepare(options, n -> driverPlugins.get(n));
    }

    /** Whether a blockdev-add of {@code options} has a blocking part ({@link #prepareBlockdevAdd}). Any thread. */
    public boolean blockdevAddWaitsOnPeers(ObjectNode options) {
        return dev.converge.block.driver.PreparedOpen.needed(options, n -> driverPlugins.get(n));
    }

    /** {@link #blockdevAdd(ObjectNode)} with what {@link #prepareBlockdevAdd} made. Main loop. */
    public BlockNode blockdevAdd(ObjectNode options, dev.converge.block.driver.PreparedOpen prepared) {
        checkMainLoop();
        BlockdevOpener.Opened opened = BlockdevOpener.open(this, options, prepared);
        for (BlockNode n : opened.created()) {
            nodes.put(n.nodeName(), n);
        }
        monitorOwned.add(opened.root());
        return opened.root();
    }

    /**
     * Adds a node made by a job (a filter, a target opened for it), not monitor-owned: it goes
     * away when its last parent does.
     */
    public void addInternalNode(BlockNode node) {
        checkMainLoop();
        checkNameFree(node.nodeName());
        nodes.put(node.nodeName(), node);
    }

    /**
     * Removes a node that {@link #addInternalNode} added once nothing uses it any more (a job's
     * filter after the job), with its children that nothing else holds.
     *
     * @throws IllegalStateException when the node is monitor-owned, not in the graph, or still
     *                               has users (a caller bug)
     */
    public void removeInternalNode(BlockNode node) {
        checkMainLoop();
        if (monitorOwned.contains(node) || nodes.get(node.nodeName()) != node) {
            throw new IllegalStateException(node + " is not an internal node of this graph");
        }
        if (!node.parents().isEmpty()) {
            throw new IllegalStateException(node + " still has users: " + node.parents());
        }
        unref(node);
    }

    /** Throws QEMU's error when {@code name} is taken by a node or a backend. */
    public void checkNameFree(String name) {
        checkMainLoop();
        for (BlockBackend b : backends) {
            if (name.equals(b.name())) {
                throw QmpException.generic("node-name=%s is conflicting with a device id", name);
            }
        }
        if (nodes.containsKey(name)) {
            throw QmpException.generic("Duplicate nodes with node-name='%s'", name);
        }
    }

    /** blockdev-del, with QEMU's checks and texts. */
    public void blockdevDel(String nodeName) {
        checkMainLoop();
        BlockNode node = nodes.get(nodeName);
        if (node == null) {
            throw QmpException.generic("Failed to find node with node-name='%s'", nodeName);
        }
        if (node.parents().stream().anyMatch(e -> e.parentBackend() != null)) {
            throw QmpException.generic("Node %s is in use", nodeName);
        }
        if (!monitorOwned.contains(node)) {
            throw QmpException.generic("Node %s is not owned by the monitor", nodeName);
        }
        if (!node.parents().isEmpty()) {
            throw QmpException.generic("Block device %s is in use", nodeName);
        }
        monitorOwned.remove(node);
        unref(node);
    }

    /** Removes a node without parents, and then its children that nothing else holds. */
    private void unref(BlockNode root) {
        Deque<BlockNode> todo = new ArrayDeque<>();
        todo.add(root);
        while (!todo.isEmpty()) {
            BlockNode n = todo.poll();
            if (!n.parents().isEmpty() || (n != root && monitorOwned.contains(n))) {
                continue;
            }
            nodes.remove(n.nodeName(), n);
            try (DrainedSection d = n.drain()) {
                n.close();
            }
            for (BlockChild c : n.children()) {
                c.detach();
                todo.add(c.node());
            }
        }
    }

    /** Removes a node that a failed open made, with its new children; for the opener. */
    public static void discardUnregistered(List<BlockNode> created) {
        for (BlockNode n : created.reversed()) {
            for (BlockChild c : n.children()) {
                c.detach();
            }
            n.close();
        }
    }

    // ---------------------------------------------------------------- users

    /**
     * Makes a backend that uses {@code node}.
     *
     * @param name device name for query-block, or null for an anonymous user (an export, a job)
     */
    public BlockBackend attachBackend(String name, BlockNode node) {
        checkMainLoop();
        if (name != null) {
            for (BlockBackend b : backends) {
                if (name.equals(b.name())) {
                    throw QmpException.generic("Duplicate device ID '%s'", name);
                }
            }
            if (nodes.containsKey(name)) {
                throw QmpException.generic("Device name '%s' conflicts with an existing node name", name);
            }
        }
        BlockBackend b = new BlockBackend(name, node);
        backends.add(b);
        return b;
    }

    /** Ends a backend's use of its node; the node stays (it is owned by the monitor or a parent). */
    public void detachBackend(BlockBackend backend) {
        checkMainLoop();
        if (backends.remove(backend)) {
            BlockNode n = backend.node();
            backend.root().detach();
            if (n.parents().isEmpty() && !monitorOwned.contains(n) && nodes.get(n.nodeName()) == n) {
                unref(n);
            }
        }
    }

    /**
     * Points every user of {@code from} (backends and parent nodes) at {@code to}, in one step
     * (QEMU's bdrv_replace_node): the mirror's pivot, and inserting a filter above a node.
     * Edges held by {@code to} itself, or by a node below it, are left alone (they would make a
     * cycle), so a filter whose child is {@code from} can be put in {@code from}'s place.
     * <p>
     * Drains both for the switch, so no request runs on either while edges move, and requests
     * that waited at {@code from} run on {@code to}. The upper one is drained first: {@code from}
     * first when {@code to} is below it (a filter removed from above its child), else {@code to}
     * first. The other order deadlocks: requests in flight on the upper node go on into the
     * lower one, and would wait there forever at the drained entrance while the upper node's
     * drain waits for them. A caller that drains itself must drain in the same order.
     * {@code from} stays in the graph; its owner deletes it if it is to go.
     */
    public void replaceNode(BlockNode from, BlockNode to) {
        checkMainLoop();
        if (from == to) {
            return;
        }
        boolean toBelowFrom = isAncestor(to, from);
        BlockNode upper = toBelowFrom ? from : to;
        BlockNode lower = toBelowFrom ? to : from;
        try (DrainedSection du = upper.drain(); DrainedSection dl = lower.drain()) {
            for (BlockChild e : from.parents()) {
                if (!wouldCycle(e, to)) {
                    e.switchTo(to);
                }
            }
        }
    }

    /**
     * Whether pointing {@code e} at {@code to} would make a cycle: its parent is {@code to} or lies
     * below it (QEMU's should_update_child skips such edges). A backup's copy-before-write filter
     * has the target below it, and a fleecing target's backing edge points at the source: that
     * edge keeps pointing at the source.
     */
    private static boolean wouldCycle(BlockChild e, BlockNode to) {
        return e.parentNode() != null && isAncestor(e.parentNode(), to);
    }

    /**
     * Points {@code node}'s backing edge at {@code backing} (none when null) and writes
     * {@code backingFile}/{@code backingFormat} into its image (block-stream and block-commit
     * dropping the nodes they made redundant). The old backing node, and below it whatever
     * nothing else holds, leaves the graph unless the monitor owns it. Drains {@code node}.
     *
     * @throws BlockIOException when the driver cannot (no backing chain) or the image could not
     *                          be written; the graph is unchanged then
     */
    public void setBacking(BlockNode node, BlockNode backing, String backingFile, String backingFormat)
            throws BlockIOException {
        setBacking(node, backing, true, backingFile, backingFormat);
    }

    /**
     * {@link #setBacking(BlockNode, BlockNode, String, String)} that changes only the graph,
     * not the image (blockdev-reopen's {@code backing}).
     */
    public void replaceBacking(BlockNode node, BlockNode backing) throws BlockIOException {
        setBacking(node, backing, false, null, null);
    }

    private void setBacking(BlockNode node, BlockNode backing, boolean record, String backingFile,
            String backingFormat) throws BlockIOException {
        checkMainLoop();
        BlockNode old = node.backing().orElse(null);
        if (backing != null && isAncestor(node, backing)) {
            throw new IllegalStateException("a backing chain cycle: " + node + " under " + backing);
        }
        try (DrainedSection d = node.drain()) {
            node.setBacking(backing, record, backingFile, backingFormat);
        }
        if (old != null && old != backing && old.parents().isEmpty() && !monitorOwned.contains(old)
                && nodes.get(old.nodeName()) == old) {
            unref(old);
        }
    }

    /**
     * Makes {@code node} read-only or read-write, with the children that inherited its mode
     * (those it opened inline: not monitor-owned, not its backing), children first when it
     * becomes writable and last when it becomes read-only, so no node is ever writable above a
     * read-only child. A monitor-owned read-only child of a node made writable is an error
     * ("Block node is read-only", as at blockdev-add). Drains each node while it changes.
     * All or nothing: what changed is changed back when a later step fails.
     *
     * @throws BlockIOException with the driver's or the rule's reason
     */
    public void reopenReadOnly(BlockNode node, boolean readOnly) throws BlockIOException {
        checkMainLoop();
        List<BlockNode> order = new ArrayList<>();
        collectInherited(node, order);
        if (!readOnly) {
            Collections.reverse(order); // children first
            for (BlockNode n : order) {
                for (BlockChild c : n.children()) {
                    if (!c.role().equals("backing") && !order.contains(c.node()) && c.node().readOnly()) {
                        throw new BlockIOException(Errno.EPERM, "Block node is read-only");
                    }
                }
            }
        }
        List<BlockNode> done = new ArrayList<>();
        try {
            for (BlockNode n : order) {
                try (DrainedSection d = n.drain()) {
                    n.reopenReadOnly(readOnly);
                }
                done.add(n);
            }
        } catch (BlockIOException e) {
            for (BlockNode n : done.reversed()) {
                try (DrainedSection d = n.drain()) {
                    n.reopenReadOnly(!readOnly);
                } catch (BlockIOException again) {
                    e.addSuppressed(again);
                }
            }
            throw e;
        }
    }

    /** {@code node} and, below it, the children that inherit its options, parents first. */
    private void collectInherited(BlockNode node, List<BlockNode> out) {
        out.add(node);
        for (BlockChild c : node.children()) {
            if (!c.role().equals("backing") && !monitorOwned.contains(c.node()) && !out.contains(c.node())) {
                collectInherited(c.node(), out);
            }
        }
    }

    /**
     * Flushes every node, newest (parents) first, so a format node's write-back metadata reaches
     * its file before the file is flushed (QEMU's bdrv_flush_all, at quit). Errors are logged;
     * every node is tried.
     */
    public void flushAll() {
        checkMainLoop();
        for (BlockNode n : nodes()) {
            try {
                n.flush();
            } catch (BlockIOException | RuntimeException e) {
                System.getLogger(BlockGraph.class.getName()).log(System.Logger.Level.WARNING,
                        "flush of node '" + n.nodeName() + "' failed: " + e.getMessage());
            }
        }
    }

    /** Whether {@code maybeChild} is {@code node} or below it. */
    private static boolean isAncestor(BlockNode maybeChild, BlockNode node) {
        if (node == maybeChild) {
            return true;
        }
        for (BlockChild c : node.children()) {
            if (isAncestor(maybeChild, c.node())) {
                return true;
            }
        }
        return false;
    }
}
