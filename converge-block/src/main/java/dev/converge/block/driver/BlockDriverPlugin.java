package dev.converge.block.driver;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockNode;
import dev.converge.block.NodeOptions;
import dev.converge.qmp.schema.ObjectType;
import java.util.Objects;

/**
 * A block driver that another module contributes (e.g. converge-nbd's {@code nbd}): the value of
 * blockdev-add's {@code driver} discriminator, the members it adds to BlockdevOptions, and how to
 * open a node. Added with {@code BlockQmp.addDriver} during wiring, before clients are served.
 *
 * @param name    the driver name, as in {@code "driver": NAME}
 * @param options the driver's own members (the BlockdevOptions variant, e.g. BlockdevOptionsNbd)
 * @param opener  opens a node from those members
 * @param preparer the blocking part of opening (a connect and handshake), run off the main loop
 *                 before the opener when blockdev-add runs asynchronously; null when there is none
 */
public record BlockDriverPlugin(String name, ObjectType options, Opener opener, Preparer preparer) {
    public BlockDriverPlugin {
        Objects.requireNonNull(name);
        Objects.requireNonNull(options);
        Objects.requireNonNull(opener);
    }

    /** A driver whose open never waits on anything outside. */
    public BlockDriverPlugin(String name, ObjectType options, Opener opener) {
        this(name, options, opener, null);
    }

    /**
     * What must not run on the main loop: a connect and handshake with a peer that may never
     * answer. blockdev-add runs it on a thread of its own, then opens on the main loop with what
     * it made ({@link Opener#open(String, NodeOptions, ObjectNode, AutoCloseable)}).
     */
    @FunctionalInterface
    public interface Preparer {
        /**
         * Any thread but the main loop; may block (bounded by the driver's own timeouts).
         *
         * @param options only the driver's own members that were given (as the opener gets them)
         * @return what the opener takes over; closed by blockdev-add when it is not taken
         * @throws dev.converge.qmp.QmpException with QEMU's text; nothing may stay open then
         */
        AutoCloseable prepare(ObjectNode options);
    }

    /** Opens a node of the driver. */
    @FunctionalInterface
    public interface Opener {
        /**
         * Called on the main loop by blockdev-add once the common options are read.
         *
         * @param nodeName    the node's name (given or generated)
         * @param nodeOptions the common options, resolved
         * @param options     only the driver's own members that were given
         * @return the open node; it is closed by the graph when it leaves it
         * @throws dev.converge.qmp.QmpException with QEMU's text; nothing may stay open then
         */
        BlockNode open(String nodeName, NodeOptions nodeOptions, ObjectNode options);

        /**
         * As {@link #open(String, NodeOptions, ObjectNode)}, with what the driver's {@link Preparer}
         * made for these options; it takes it over (closes it when the open fails). Null: nothing was
         * prepared, open does all. The default ignores it (drivers without a preparer).
         */
        default BlockNode open(String nodeName, NodeOptions nodeOptions, ObjectNode options, AutoCloseable prepared) {
            return open(nodeName, nodeOptions, options);
        }
    }
}
