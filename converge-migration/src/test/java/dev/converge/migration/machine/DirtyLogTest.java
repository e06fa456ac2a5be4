package dev.converge.migration.machine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.testing.TestTimeouts;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Phaser;
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
     * Writers store the round number into every page (each into its own word) while a
     * migration thread syncs the log and copies every collected page into a shadow, as fast as
     * it can. At the end of each round (writers parked at a phaser) one last sync and copy must
     * make the shadow equal the RAM: a write racing a sync is never lost.
     */
    @Test
    void writesRacingSyncAreNeverLost() throws Exception {
        int pages = 256;
        int writers = 3;
        int rounds = 300;
        try (GuestRam ram = new GuestRam(List.of(new GuestRam.BlockInfo("ram", (long) pages * RamBlock.PAGE_SIZE)))) {
            RamBlock block = ram.blocks().get(0);
            MigrationBitmap bitmap = ram.newMigrationBitmap();
            byte[] shadow = new byte[pages * RamBlock.PAGE_SIZE];
            Phaser phaser = new Phaser(writers + 1);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int id = w;
                threads.add(Thread.ofPlatform().name("writer-" + w).start(() -> {
                    try {
                        for (int r = 1; r <= rounds; r++) {
                            for (int i = 0; i < pages; i++) {
                                int page = (i * 7 + id * 31 + r) % pages;
                                block.writeLong((long) page * RamBlock.PAGE_SIZE + id * 8L, r);
                            }
                            phaser.arriveAndAwaitAdvance(); // round written
                            phaser.arriveAndAwaitAdvance(); // round checked
                        }
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                        phaser.arriveAndDeregister();
                    }
                }));
            }
            MemorySegment ramView = block.page(0).reinterpret(block.size());
            for (int r = 1; r <= rounds; r++) {
                int phase = phaser.getPhase();
                while (phaser.getArrivedParties() < writers && phaser.getPhase() == phase) {
                    ram.syncDirtyLog(bitmap);
                    copyMarked(block, bitmap, shadow);
                }
                phaser.awaitAdvanceInterruptibly(phaser.arrive(), TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS);
                ram.syncDirtyLog(bitmap);
                copyMarked(block, bitmap, shadow);
                assertThat(MemorySegment.ofArray(shadow).mismatch(ramView)).as("first lost byte in round %d", r).isEqualTo(-1);
                phaser.awaitAdvanceInterruptibly(phaser.arrive(), TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS);
            }
            for (Thread t : threads) {
                t.join(TestTimeouts.SHORT.toMillis());
            }
            assertThat(failure.get()).isNull();
        }
    }

    private static void copyMarked(RamBlock block, MigrationBitmap bitmap, byte[] shadow) {
        for (long p = bitmap.nextSet(0, 0); p >= 0; p = bitmap.nextSet(0, p + 1)) {
            bitmap.clear(0, p);
            MemorySegment.copy(block.page(p), ValueLayout.JAVA_BYTE, 0, shadow, (int) (p * RamBlock.PAGE_SIZE), RamBlock.PAGE_SIZE);
        }
    }
}
