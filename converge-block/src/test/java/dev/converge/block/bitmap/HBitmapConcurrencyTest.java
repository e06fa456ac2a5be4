package dev.converge.block.bitmap;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.testing.TestTimeouts;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class HBitmapConcurrencyTest {
    @Test
    void concurrentSettersLoseNoBit() throws Exception {
        int threads = 8;
        int bitsEach = 20_000;
        HBitmap hb = new HBitmap((long) threads * bitsEach);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> fs = new ArrayList<>();
        try (ExecutorService ex = Executors.newFixedThreadPool(threads)) {
            for (int t = 0; t < threads; t++) {
                int id = t;
                fs.add(ex.submit(() -> {
                    start.await();
                    // interleaved bits: every word is shared by all threads
                    for (int i = 0; i < bitsEach; i++) {
                        hb.set((long) i * threads + id, 1);
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : fs) {
                f.get(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
        assertThat(hb.count()).isEqualTo((long) threads * bitsEach);
        assertThat(hb.nextClear(0)).isEqualTo(-1);
    }

    @Test
    void setRacingWithResetOfOtherBitsStaysFindable() throws Exception {
        HBitmap hb = new HBitmap(1 << 16);
        CountDownLatch start = new CountDownLatch(1);
        try (ExecutorService ex = Executors.newFixedThreadPool(2)) {
            Future<?> resetter = ex.submit(() -> {
                start.await();
                for (int i = 0; i < 20_000; i++) {
                    hb.set(0, 1);
                    hb.reset(0, 1);
                }
                return null;
            });
            Future<?> setter = ex.submit(() -> {
                start.await();
                for (int i = 1; i < 1 << 16; i += 64) {
                    hb.set(i, 1); // same low-level words as bit 0 for i < 64, others elsewhere
                }
                return null;
            });
            start.countDown();
            resetter.get(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS);
            setter.get(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS);
        }
        long found = 0;
        for (long b = hb.nextSet(0); b >= 0; b = hb.nextSet(b + 1)) {
            found++;
        }
        assertThat(found).isEqualTo(hb.count()).isEqualTo(1024);
    }
}
