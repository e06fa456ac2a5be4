package dev.converge.block.driver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.function.Function;

/**
 * What the {@link BlockDriverPlugin.Preparer preparers} made for one blockdev-add, off the main
 * loop, for the opener to take on the main loop: keyed by the driver's own options (two nodes
 * with equal options each get their own). {@link #close} closes what nobody took (the open
 * failed before, or the tree changed). Made by one thread, then handed to the main loop.
 */
public final class PreparedOpen implements AutoCloseable {
    /** Nothing prepared: every driver opens all on its own. */
    public static PreparedOpen none() {
        return new PreparedOpen();
    }

    private final Map<ObjectNode, ArrayDeque<AutoCloseable>> made = new HashMap<>();

    private PreparedOpen() {
    }

    /**
     * Runs the preparer of every node in {@code options} (the blockdev-add arguments, inline
     * children included) whose driver has one. On a failure closes what it made and rethrows.
     *
     * @param plugins the added driver named so, or null for built-in drivers
     */
    public static PreparedOpen prepare(ObjectNode options, Function<String, BlockDriverPlugin> plugins) {
        PreparedOpen p = new PreparedOpen();
        try {
            p.walk(options, plugins);
            return p;
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    /** Whether any node of {@code options} has a driver with a preparer. */
    public static boolean needed(ObjectNode options, Function<String, BlockDriverPlugin> plugins) {
        if (options.get("driver") instanceof JsonNode d && d.isTextual()
                && plugins.apply(d.asText()) instanceof BlockDriverPlugin plugin && plugin.preparer() != null) {
            return true;
        }
        for (Iterator<JsonNode> it = options.elements(); it.hasNext();) {
            if (it.next() instanceof ObjectNode child && needed(child, plugins)) {
                return true;
            }
        }
        return false;
    }

    private void walk(ObjectNode node, Function<String, BlockDriverPlugin> plugins) {
        for (Iterator<JsonNode> it = node.elements(); it.hasNext();) {
            if (it.next() instanceof ObjectNode child) {
                walk(child, plugins);
            }
        }
        if (node.get("driver") instanceof JsonNode d && d.isTextual()
                && plugins.apply(d.asText()) instanceof BlockDriverPlugin plugin && plugin.preparer() != null) {
            ObjectNode own = own(node, plugin);
            made.computeIfAbsent(own, k -> new ArrayDeque<>()).add(plugin.preparer().prepare(own));
        }
    }

    /** The driver's own members of {@code node}, as the opener hands them to the driver. */
    static ObjectNode own(ObjectNode node, BlockDriverPlugin plugin) {
        ObjectNode out = node.objectNode();
        plugin.options().members().forEach(m -> {
            if (node.get(m.name()) != null) {
                out.set(m.name(), node.get(m.name()));
            }
        });
        return out;
    }

    /** What was made for a node with these driver options, or null; the caller owns it then. */
    AutoCloseable take(ObjectNode own) {
        ArrayDeque<AutoCloseable> q = made.get(own);
        return q == null ? null : q.poll();
    }

    @Override
    public void close() {
        for (ArrayDeque<AutoCloseable> q : made.values()) {
            for (AutoCloseable c; (c = q.poll()) != null;) {
                try {
                    c.close();
                } catch (Exception e) {
                    // releasing only
                }
            }
        }
    }
}
