package dev.converge.migration.machine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.testing.TestTimeouts;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class DirtyLogTest {
    @Test
    void markAndDrainMovesBitsAndClearsTheLog() {
        DirtyLog log = new DirtyLog(130);
        log.mark(0);
        log.mark(64);
        log.mark(129);
        long[] target = new long[3];
        target[0] = 1; // already marked in the migration bitmap: not counted again
        assertThat(log.drainInto(target)).isEqualTo(2);
        assertThat(target).containsExactly(1L, 1L, 2L);
        assertThat(log.isDirty(0)).isFalse();
        assertThat(log.drainInto(target)).isZero();
    }

    /**
     * Writers store increasing values into pages while a migration thread repeatedly syncs the
     * log and copies every collected page into a shadow. After the writers finish, one last
     * sync and copy must make the shadow equal the RAM: a write racing a sync is never lost.
     */
    @Test
    void writesRacingSyncAreNeverLost() throws Exception {
        int pages = 256;
        int writers = 3;
        try (GuestRam ram = new GuestRam(List.of(new GuestRam.BlockInfo("ram", (long) pages * RamBlock.PAGE_SIZE)))) {
            RamBlock block = ram.blocks().get(0);
            MigrationBitmap bitmap = ram.newMigrationBitmap();
            byte[] shadow = new byte[pages * RamBlock.PAGE_SIZE];
            CountDownLatch start = new CountDownLatch(1);
            CountDownLatch writersDone = new CountDownLatch(writers);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int id = w;
                threads.add(Thread.ofPlatform().name("writer-" + w).start(() -> {
                    try {
                        start.await();
                        long x = id + 1;
                        for (int i = 0; i < 200_000; i++) {
                            x = x * 6364136223846793005L + 1442695040888963407L;
                            long page = (x >>> 33) % pages;
                            // each writer owns the word at slot id, so values never interleave within a word
                            block.writeLong(page * RamBlock.PAGE_SIZE + id * 8L, i);
                        }
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    } finally {
                        writersDone.countDown();
                    }
                }));
            }
            start.countDown();
            long syncs = 0;
            do {
                ram.syncDirtyLog(bitmap);
                copyMarked(block, bitmap, shadow);
                syncs++;
            } while (!writersDone.await(0, TimeUnit.MILLISECONDS));
            assertThat(writersDone.await(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            for (Thread t : threads) {
                t.join(TestTimeouts.SHORT.toMillis());
            }
            assertThat(failure.get()).isNull();
            ram.syncDirtyLog(bitmap);
            copyMarked(block, bitmap, shadow);
            assertThat(syncs).isGreaterThan(1);
            assertThat(MemorySegment.ofArray(shadow).mismatch(block.page(0).reinterpret(block.size()))).isEqualTo(-1);
        }
    }

    private static void copyMarked(RamBlock block, MigrationBitmap bitmap, byte[] shadow) {
        for (long p = bitmap.nextSet(0, 0); p >= 0; p = bitmap.nextSet(0, p + 1)) {
            bitmap.clear(0, p);
            MemorySegment.copy(block.page(p), ValueLayout.JAVA_BYTE, 0, shadow, (int) (p * RamBlock.PAGE_SIZE), RamBlock.PAGE_SIZE);
        }
    }
}
