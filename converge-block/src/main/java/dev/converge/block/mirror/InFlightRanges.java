package dev.converge.block.mirror;

import java.util.ArrayList;
import java.util.List;

/**
 * The granule ranges a mirror has work in flight on: copy operations, guest writes through the
 * filter and windows of the allocation scan, each registered for its lifetime.
 * <p>
 * Nothing here ever waits: a guest write is never held back by a copy (QEMU's background mode
 * does not wait either, and a write-blocking write here does not wait as QEMU's does). Instead a
 * range that overlapped another while in flight is <em>conflicted</em>: it must not mark its
 * granules clean when it ends, because it cannot know in which order the two reached the target.
 * The source's write path marks those granules dirty, so they are copied again later. Copy
 * operations are only started on granules no range covers ({@link #overlaps}), so two copies of
 * a granule never race on the target.
 * <p>
 * Not thread-safe: the mirror guards it with its lock, which is never held across I/O. The list
 * stays short (at most MAX_IN_FLIGHT copies, the writes in flight of the guest's connections,
 * one scan window), so a linear search is cheaper than a tree.
 */
final class InFlightRanges {
    /** What a range is in flight for. */
    enum Kind {
        COPY, GUEST_WRITE, SCAN
    }

    /** One registered range of granules [first, lastExcl). */
    static final class Range {
        final long first;
        final long lastExcl;
        final Kind kind;
        /** Whether another range overlapped it while it was registered. Guarded by the owner's lock. */
        private boolean conflicted;

        private Range(long first, long lastExcl, Kind kind) {
            this.first = first;
            this.lastExcl = lastExcl;
            this.kind = kind;
        }

        /** Whether another range overlapped this one since it was registered. */
        boolean conflicted() {
            return conflicted;
        }

        boolean overlaps(long f, long l) {
            return f < lastExcl && first < l;
        }

        @Override
        public String toString() {
            return kind + "[" + first + ", " + lastExcl + ")" + (conflicted ? " conflicted" : "");
        }
    }

    private final List<Range> ranges = new ArrayList<>();

    /**
     * Registers a range; it and every registered range it overlaps become conflicted. Never
     * refuses and never waits.
     */
    Range add(long first, long lastExcl, Kind kind) {
        if (first < 0 || lastExcl <= first) {
            throw new IllegalArgumentException("granules [" + first + ", " + lastExcl + ")");
        }
        Range r = new Range(first, lastExcl, kind);
        for (Range o : ranges) {
            if (o.overlaps(first, lastExcl)) {
                o.conflicted = true;
                r.conflicted = true;
            }
        }
        ranges.add(r);
        return r;
    }

    /** Ends a range registered by {@link #add}. */
    void remove(Range r) {
        if (!ranges.remove(r)) {
            throw new IllegalStateException("not registered: " + r);
        }
    }

    /** Whether any registered range covers a granule of [first, lastExcl). */
    boolean overlaps(long first, long lastExcl) {
        for (Range o : ranges) {
            if (o.overlaps(first, lastExcl)) {
                return true;
            }
        }
        return false;
    }

    /** Registered ranges of {@code kind}. */
    int count(Kind kind) {
        int n = 0;
        for (Range o : ranges) {
            if (o.kind == kind) {
                n++;
            }
        }
        return n;
    }

    boolean isEmpty() {
        return ranges.isEmpty();
    }
}
