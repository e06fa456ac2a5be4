package dev.converge.block;

import java.lang.foreign.MemorySegment;
import java.util.Set;

/**
 * A write-type request as before-write notifiers see it.
 *
 * @param node   the node being written
 * @param kind   what the request does
 * @param offset first byte
 * @param length bytes affected
 * @param data   the bytes to be written for {@link Kind#WRITE}; null otherwise. Valid only during the callback.
 * @param flags  request flags
 */
public record WriteRequest(BlockNode node, Kind kind, long offset, long length, MemorySegment data,
        Set<ReqFlag> flags) {
    /** The three operations that change a node's contents. */
    public enum Kind { WRITE, WRITE_ZEROES, DISCARD }
}
