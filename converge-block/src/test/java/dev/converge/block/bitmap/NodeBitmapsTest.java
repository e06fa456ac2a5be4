package dev.converge.block.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class NodeBitmapsTest {
    private static final long MIB = 1 << 20;
    private final NodeBitmaps node = new NodeBitmaps();

    @Test
    void namesAreUniqueAndBounded() throws Exception {
        node.add("b", 65536, MIB);
        assertThatThrownBy(() -> node.add("b", 65536, MIB)).hasMessage("Bitmap already exists: b");
        String longName = "x".repeat(1024);
        assertThatThrownBy(() -> node.add(longName, 65536, MIB)).hasMessage("Bitmap name too long: " + longName);
        node.add(null, 512, MIB);
        node.add(null, 512, MIB); // anonymous ones never clash
        assertThat(node.all()).hasSize(3);
    }

    @Test
    void checkRefusesInQemusOrderWithQemusTexts() throws Exception {
        DirtyBitmap b = node.add("b", 65536, MIB);
        b.check(DirtyBitmap.Use.MODIFY);
        b.setReadonly(true);
        assertThatThrownBy(() -> b.check(DirtyBitmap.Use.MODIFY))
                .hasMessage("Bitmap 'b' is readonly and cannot be modified");
        b.check(DirtyBitmap.Use.ALLOW_READONLY);
        b.setBusy(true);
        assertThatThrownBy(() -> b.check(DirtyBitmap.Use.ALLOW_READONLY))
                .hasMessage("Bitmap 'b' is currently in use by another operation and cannot be used");
        b.setBusy(false);
        b.setInconsistent();
        assertThat(b.enabled()).isFalse();
        assertThatThrownBy(() -> b.check(DirtyBitmap.Use.ALLOW_READONLY))
                .hasMessage("Bitmap 'b' is inconsistent and cannot be used");
    }

    @Test
    void successorTakesNewWritesAndAbdicateKeepsOnlyThem() throws Exception {
        DirtyBitmap b = node.add("b", 65536, 4 * MIB);
        node.recordWrite(0, 1);
        DirtyBitmap s = node.createSuccessor(b);
        assertThat(b.busy()).isTrue();
        assertThat(b.recording()).isTrue();
        assertThat(b.enabled()).isFalse();
        assertThatThrownBy(() -> node.createSuccessor(b))
                .hasMessage("Bitmap 'b' is currently in use by another operation and cannot be used");
        node.recordWrite(MIB, 1);
        assertThat(b.dirtyRanges(0, 4 * MIB)).containsExactly(new DirtyBitmap.Range(0, 65536));
        assertThat(s.dirtyRanges(0, 4 * MIB)).containsExactly(new DirtyBitmap.Range(MIB, 65536));
        node.abdicate(b);
        assertThat(b.dirtyRanges(0, 4 * MIB)).containsExactly(new DirtyBitmap.Range(MIB, 65536));
        assertThat(b.busy()).isFalse();
        assertThat(b.enabled()).isTrue();
        assertThat(b.successor()).isNull();
        assertThat(node.all()).containsExactly(b);
    }

    @Test
    void reclaimKeepsOldBitsAndGainsNewOnes() throws Exception {
        DirtyBitmap b = node.add("b", 65536, 4 * MIB);
        node.recordWrite(0, 1);
        node.createSuccessor(b);
        node.recordWrite(2 * MIB, 70_000);
        node.reclaim(b);
        assertThat(b.dirtyRanges(0, 4 * MIB)).containsExactly(new DirtyBitmap.Range(0, 65536),
                new DirtyBitmap.Range(2 * MIB, 2 * 65536));
        assertThat(node.all()).containsExactly(b);
        node.recordWrite(3 * MIB, 1);
        assertThat(b.isDirty(3 * MIB, 1)).isTrue();
    }

    @Test
    void disabledBitmapGetsADisabledSuccessor() throws Exception {
        DirtyBitmap b = node.add("b", 65536, MIB);
        b.setEnabled(false);
        DirtyBitmap s = node.createSuccessor(b);
        assertThat(s.enabled()).isFalse();
        assertThat(b.recording()).isFalse();
        node.recordWrite(0, MIB);
        node.reclaim(b);
        assertThat(b.dirtyBytes()).isZero();
        assertThat(b.enabled()).isFalse();
    }

    @Test
    void mergeJoinsGranularitiesAndRefusesOtherSizes() throws Exception {
        DirtyBitmap fine = new DirtyBitmap("fine", 512, MIB);
        DirtyBitmap coarse = new DirtyBitmap("coarse", 65536, MIB);
        fine.setDirty(70_000, 10);
        coarse.merge(fine);
        assertThat(coarse.dirtyRanges(0, MIB)).containsExactly(new DirtyBitmap.Range(65536, 65536));
        fine.merge(coarse);
        assertThat(fine.dirtyRanges(0, MIB)).containsExactly(new DirtyBitmap.Range(65536, 65536));
        assertThatThrownBy(() -> fine.merge(new DirtyBitmap("other", 512, 2 * MIB))).hasMessage(
                "Bitmaps are of different sizes (destination size is 1048576, source size is 2097152) and can't "
                        + "be merged");
    }

    @Test
    void rollbackRestoresBitsAndKeepsWritesMadeMeanwhile() {
        DirtyBitmap b = new DirtyBitmap("b", 4096, MIB);
        b.setDirty(0, 4096);
        DirtyBitmap.Change c = b.beginChange();
        b.clear();
        b.setDirty(8192, 1); // a guest write during the transaction
        c.rollback();
        assertThat(b.dirtyRanges(0, MIB)).containsExactly(new DirtyBitmap.Range(0, 4096),
                new DirtyBitmap.Range(8192, 4096));

        DirtyBitmap src = new DirtyBitmap("s", 4096, MIB);
        src.setDirty(65536, 65536);
        DirtyBitmap.Change m = b.beginChange();
        try {
            b.merge(src);
        } catch (BitmapException e) {
            throw new AssertionError(e);
        }
        b.setDirty(65536, 1); // written meanwhile inside the merged range: must stay
        m.rollback();
        assertThat(b.dirtyRanges(0, MIB)).containsExactly(new DirtyBitmap.Range(0, 4096),
                new DirtyBitmap.Range(8192, 4096), new DirtyBitmap.Range(65536, 4096));
        assertThatThrownBy(m::commit).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void rollbackNeverLosesAConcurrentWrite() throws Exception {
        for (int round = 0; round < 50; round++) {
            DirtyBitmap b = new DirtyBitmap("b", 512, 2 * MIB);
            DirtyBitmap src = new DirtyBitmap("s", 512, 2 * MIB);
            src.setDirty(0, 2 * MIB);
            AtomicBoolean stop = new AtomicBoolean();
            CountDownLatch started = new CountDownLatch(1);
            long[] written = new long[1];
            Thread writer = Thread.ofPlatform().start(() -> {
                long off = 0;
                started.countDown();
                while (!stop.get()) {
                    b.setDirty(off, 1);
                    written[0] = off + 512;
                    off = (off + 4096) % (2 * MIB);
                    if (off == 0) {
                        break;
                    }
                }
            });
            started.await();
            DirtyBitmap.Change c = b.beginChange();
            b.merge(src);
            c.rollback();
            stop.set(true);
            writer.join();
            for (long off = 0; off < written[0]; off += 4096) {
                assertThat(b.isDirty(off, 1)).as("write at %d in round %d", off, round).isTrue();
            }
            List<DirtyBitmap.Range> ranges = b.dirtyRanges(0, 2 * MIB);
            assertThat(ranges).allSatisfy(r -> assertThat(r.length()).isEqualTo(512));
        }
    }
}
