package dev.converge.block.mirror;

import dev.converge.block.Extent;
import java.util.ArrayList;
import java.util.List;

/** Pure functions over block-status answers, for the mirror's allocation scan. */
final class Extents {
    private Extents() {
    }

    /**
     * The ranges that read as zeroes in both answers, in order, as ZERO extents. Both lists
     * cover the same range in order (as {@code blockStatus} returns them); a range one of them
     * does not cover counts as not zero.
     */
    static List<Extent> zeroOnBoth(List<Extent> a, List<Extent> b) {
        List<Extent> out = new ArrayList<>();
        int i = 0;
        int j = 0;
        while (i < a.size() && j < b.size()) {
            Extent x = a.get(i);
            Extent y = b.get(j);
            long start = Math.max(x.offset(), y.offset());
            long end = Math.min(x.end(), y.end());
            if (start < end && x.isZero() && y.isZero()) {
                if (!out.isEmpty() && out.getLast().end() == start) {
                    Extent last = out.removeLast();
                    out.add(new Extent(last.offset(), end - last.offset(), Extent.ZERO));
                } else {
                    out.add(new Extent(start, end - start, Extent.ZERO));
                }
            }
            if (x.end() <= y.end()) {
                i++;
            } else {
                j++;
            }
        }
        return out;
    }
}
