package dev.converge.migration.machine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.BitSet;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Model-based: the dirty log and migration bitmap against a BitSet model. */
class DirtyLogProperties {
    /** An operation: a page number to write, or -1 for sync, or -2 for "send": clear all marks. */
    @Provide
    Arbitrary<List<Integer>> ops() {
        return Arbitraries.integers().between(-2, 199).list().ofMaxSize(300);
    }

    @Property(tries = 200)
    void syncHandsOverExactlyThePagesWrittenSinceTheLastSync(@ForAll("ops") List<Integer> ops) {
        int pages = 200;
        try (GuestRam ram = new GuestRam(List.of(new GuestRam.BlockInfo("a", 72L * RamBlock.PAGE_SIZE),
                new GuestRam.BlockInfo("b", (long) (pages - 72) * RamBlock.PAGE_SIZE)))) {
            MigrationBitmap bitmap = ram.newMigrationBitmap();
            BitSet logModel = new BitSet();
            BitSet bitmapModel = new BitSet();
            for (int op : ops) {
                if (op >= 0) {
                    int block = op < 72 ? 0 : 1;
                    long page = op < 72 ? op : op - 72;
                    ram.blocks().get(block).write(page * RamBlock.PAGE_SIZE + 5, (byte) op);
                    logModel.set(op);
                } else if (op == -1) {
                    BitSet added = (BitSet) logModel.clone();
                    added.andNot(bitmapModel);
                    assertThat(ram.syncDirtyLog(bitmap)).isEqualTo(added.cardinality());
                    bitmapModel.or(logModel);
                    logModel.clear();
                } else {
                    for (int b = 0; b < 2; b++) {
                        for (long p = bitmap.nextSet(b, 0); p >= 0; p = bitmap.nextSet(b, p + 1)) {
                            bitmap.clear(b, p);
                        }
                    }
                    bitmapModel.clear();
                }
                assertThat(bitmap.count()).isEqualTo(bitmapModel.cardinality());
            }
            for (int p = 0; p < pages; p++) {
                boolean set = p < 72 ? bitmap.isSet(0, p) : bitmap.isSet(1, p - 72);
                assertThat(set).as("page %d", p).isEqualTo(bitmapModel.get(p));
            }
        }
    }

    @Property(tries = 100)
    void setAllMarksEveryPageAndNothingBeyond(@ForAll("sizes") int pages) {
        try (GuestRam ram = new GuestRam(List.of(new GuestRam.BlockInfo("a", (long) pages * RamBlock.PAGE_SIZE)))) {
            MigrationBitmap bitmap = ram.newMigrationBitmap();
            bitmap.setAll();
            assertThat(bitmap.count()).isEqualTo(pages);
            assertThat(bitmap.nextSet(0, pages - 1)).isEqualTo(pages - 1);
            assertThat(bitmap.nextSet(0, pages)).isEqualTo(-1);
        }
    }

    @Provide
    Arbitrary<Integer> sizes() {
        return Arbitraries.integers().between(1, 300);
    }
}
