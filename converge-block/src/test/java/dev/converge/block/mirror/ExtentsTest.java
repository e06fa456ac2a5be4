package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.block.Extent;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExtentsTest {
    static Extent zero(long o, long l) {
        return new Extent(o, l, Extent.ZERO | Extent.ALLOCATED);
    }

    static Extent data(long o, long l) {
        return new Extent(o, l, Extent.DATA | Extent.ALLOCATED);
    }

    @Test
    void onlyWhatReadsAsZeroOnBothSides() {
        List<Extent> source = List.of(data(0, 10), zero(10, 30), data(40, 10), zero(50, 50));
        List<Extent> target = List.of(zero(0, 20), data(20, 5), zero(25, 75));
        assertThat(Extents.zeroOnBoth(source, target))
                .containsExactly(new Extent(10, 10, Extent.ZERO), new Extent(25, 15, Extent.ZERO),
                        new Extent(50, 50, Extent.ZERO));
    }

    @Test
    void adjacentPiecesMergeAndDataAnywhereIsNeverZero() {
        assertThat(Extents.zeroOnBoth(List.of(zero(0, 10), zero(10, 10)), List.of(zero(0, 5), zero(5, 15))))
                .containsExactly(new Extent(0, 20, Extent.ZERO));
        assertThat(Extents.zeroOnBoth(List.of(data(0, 20)), List.of(zero(0, 20)))).isEmpty();
        assertThat(Extents.zeroOnBoth(List.of(zero(0, 20)), List.of(data(0, 20)))).isEmpty();
        assertThat(Extents.zeroOnBoth(List.of(zero(0, 20)), List.of())).isEmpty();
    }
}
