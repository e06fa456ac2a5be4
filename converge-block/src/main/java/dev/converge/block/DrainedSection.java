package dev.converge.block;

/**
 * A drained section of a node (QEMU's bdrv_drained_begin/end pair). While it is open no request
 * of any thread is running on the node and new ones wait at the node's entrance; closing it lets
 * them in. Sections nest: the node is quiescent while any is open. Closing twice is harmless.
 */
public interface DrainedSection extends AutoCloseable {
    /** Ends this section; waiting requests proceed once no other section is open. */
    @Override
    void close();
}
