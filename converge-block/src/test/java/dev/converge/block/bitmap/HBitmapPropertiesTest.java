package dev.converge.block.bitmap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.BitSet;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** HBitmap against a BitSet model: every operation sequence gives the same answers. */
class HBitmapPropertiesTest {
    record Op(boolean set, int start, int len) {
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Combinators.combine(Arbitraries.of(true, true, false), Arbitraries.integers().between(0, 9000),
                Arbitraries.integers().between(0, 700)).as(Op::new);
        return op.list().ofMinSize(1).ofMaxSize(40);
    }

    @Property(tries = 300)
    void matchesBitSetModel(@ForAll @IntRange(min = 1, max = 9000) int size, @ForAll("ops") List<Op> ops) {
        HBitmap hb = new HBitmap(size);
        BitSet model = new BitSet(size);
        for (Op op : ops) {
            int start = Math.min(op.start(), size);
            int len = Math.min(op.len(), size - start);
            if (op.set()) {
                hb.set(start, len);
                model.set(start, start + len);
            } else {
                hb.reset(start, len);
                model.clear(start, start + len);
            }
            assertThat(hb.count()).isEqualTo(model.cardinality());
        }
        for (int from = 0; from < size; from += 1 + from / 7) {
            int ns = model.nextSetBit(from);
            int nc = model.nextClearBit(from);
            assertThat(hb.nextSet(from)).as("nextSet(%d)", from).isEqualTo(ns < 0 ? -1 : ns);
            assertThat(hb.nextClear(from)).as("nextClear(%d)", from).isEqualTo(nc >= size ? -1 : nc);
            assertThat(hb.get(from)).isEqualTo(model.get(from));
        }
        assertThat(hb.nextSet(size)).isEqualTo(-1);
    }

    @Property(tries = 50)
    void largeBitmapFindsLoneBitAcrossLevels(@ForAll @IntRange(min = 0, max = 5_000_000) int bit) {
        HBitmap hb = new HBitmap(5_000_001);
        assertThat(hb.nextSet(0)).isEqualTo(-1);
        hb.set(bit, 1);
        assertThat(hb.nextSet(0)).isEqualTo(bit);
        assertThat(hb.nextSet(bit + 1L)).isEqualTo(-1);
        hb.reset(bit, 1);
        assertThat(hb.nextSet(0)).isEqualTo(-1);
        assertThat(hb.count()).isZero();
    }
}
