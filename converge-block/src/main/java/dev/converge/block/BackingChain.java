package dev.converge.block;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Questions about backing chains (QEMU's bdrv_is_allocated_above, bdrv_find_backing_image,
 * bdrv_chain_contains) for the jobs that work on them: stream, commit, mirror {@code sync: top}
 * and active commit. Pure reads of the graph and of block status; any thread for the status
 * questions, the main loop for the structural ones (as the graph requires).
 */
public final class BackingChain {
    private BackingChain() {
    }

    /** The parts of [offset, offset + length) that {@code node} does not hold itself, in order. */
    public static List<Extent> unallocatedHere(BlockNode node, long offset, long length) throws BlockIOException {
        List<Extent> holes = new ArrayList<>();
        long pos = offset;
        for (Extent e : node.allocatedHere(offset, length)) {
            if (e.offset() > pos) {
                holes.add(new Extent(pos, e.offset() - pos, 0));
            }
            pos = Math.max(pos, e.end());
        }
        if (pos < offset + length) {
            holes.add(new Extent(pos, offset + length - pos, 0));
        }
        return holes;
    }

    /** Whether {@code node} is {@code top} or in its backing chain. */
    public static boolean contains(BlockNode top, BlockNode node) {
        for (BlockNode n = top; n != null; n = n.backing().orElse(null)) {
            if (n == node) {
                return true;
            }
        }
        return false;
    }

    /** The nodes from {@code top} down to {@code base}, both excluded ({@code base} null: to the end). */
    public static List<BlockNode> between(BlockNode top, BlockNode base) {
        List<BlockNode> out = new ArrayList<>();
        for (BlockNode n = top.backing().orElse(null); n != null && n != base; n = n.backing().orElse(null)) {
            out.add(n);
        }
        return out;
    }

    /** The bottom node of {@code top}'s chain (QEMU's bdrv_find_base): the one without a backing node. */
    public static BlockNode bottom(BlockNode top) {
        BlockNode n = top;
        while (n.backing().isPresent()) {
            n = n.backing().get();
        }
        return n;
    }

    /** The overlay of {@code node} in {@code top}'s chain: the node whose backing it is, or empty for {@code top}. */
    public static Optional<BlockNode> overlay(BlockNode top, BlockNode node) {
        for (BlockNode n = top; n != null; n = n.backing().orElse(null)) {
            if (n.backing().orElse(null) == node) {
                return Optional.of(n);
            }
        }
        return Optional.empty();
    }

    /**
     * The node below {@code top} (excluded) whose image file name or node name is {@code name}
     * (QEMU's bdrv_find_backing_image, by the name the user gave as {@code base} or {@code top}).
     */
    public static Optional<BlockNode> findBackingImage(BlockNode top, String name) {
        for (BlockNode n = top.backing().orElse(null); n != null; n = n.backing().orElse(null)) {
            if (name.equals(n.filename()) || name.equals(n.nodeName())
                    || java.nio.file.Path.of(name).toAbsolutePath().normalize().toString().equals(
                            java.nio.file.Path.of(n.filename()).toAbsolutePath().normalize().toString())) {
                return Optional.of(n);
            }
        }
        return Optional.empty();
    }

    /**
     * The parts of [offset, offset + length) that some node from {@code top} (included) down to
     * {@code base} (excluded; null: the whole chain) holds itself, merged and in order (QEMU's
     * bdrv_is_allocated_above). What no node of that part of the chain holds reads the same
     * through {@code base} alone. Each node is asked only about itself ({@link BlockNode#allocatedHere}),
     * so nothing below {@code base} is asked.
     */
    public static List<Extent> allocatedAbove(BlockNode top, BlockNode base, long offset, long length)
            throws BlockIOException {
        List<Extent> found = new ArrayList<>();
        for (BlockNode n = top; n != null && n != base; n = n.backing().orElse(null)) {
            long len = Math.min(length, n.size() - offset);
            if (len <= 0) {
                continue;
            }
            found.addAll(n.allocatedHere(offset, len));
        }
        found.sort(Comparator.comparingLong(Extent::offset));
        List<Extent> merged = new ArrayList<>();
        for (Extent e : found) {
            if (!merged.isEmpty() && merged.getLast().end() >= e.offset()) {
                Extent last = merged.getLast();
                merged.set(merged.size() - 1, new Extent(last.offset(), Math.max(last.end(), e.end()) - last.offset(),
                        Extent.DATA | Extent.ALLOCATED));
            } else {
                merged.add(new Extent(e.offset(), e.length(), Extent.DATA | Extent.ALLOCATED));
            }
        }
        return merged;
    }
}
