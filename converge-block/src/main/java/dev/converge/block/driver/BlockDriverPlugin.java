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
 */
public record BlockDriverPlugin(String name, ObjectType options, Opener opener) {
    public BlockDriverPlugin {
        Objects.requireNonNull(name);
        Objects.requireNonNull(options);
        Objects.requireNonNull(opener);
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
    }
}
