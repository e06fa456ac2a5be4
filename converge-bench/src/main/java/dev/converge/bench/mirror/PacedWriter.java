package dev.converge.bench.mirror;

import dev.converge.bench.Sizes;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Writes 64 KiB blocks of random data at random aligned offsets into an NBD export at a fixed
 * rate, on its own named thread, until {@link #stop}. Pacing: each write is due
 * {@code block ÷ rate} after the previous one; a writer that falls more than a second behind
 * (the server is slower than the rate) does not burst to catch up, so the achieved rate in
 * {@link Figures} is what the server allowed.
 */
final class PacedWriter {
    /** Bytes per write. */
    static final int BLOCK = 64 * 1024;
    /** Random bytes the blocks are cut from (a window at a random 8-byte aligned start per write). */
    private static final int POOL = 16 << 20;
    private static final long MAX_LAG_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final NbdWriteClient nbd;
    private final long rate;
    private final long seed;
    private final Thread thread;
    /** Set by {@link #stop} from the benchmark thread, read by the writer thread. */
    private volatile boolean stopping;
    /** Written by the writer thread before it ends; read after join (happens-before by join). */
    private long writes;
    /** Written by the writer thread before it ends; read after join. */
    private long elapsedNanos;
    /** Written by the writer thread before it ends; read after join. */
    private Throwable failure;

    /**
     * What the writer did.
     *
     * @param writes       blocks written (and acknowledged)
     * @param bytes        bytes written
     * @param elapsedNanos from the first write to the flush after the last
     */
    record Figures(long writes, long bytes, long elapsedNanos) {
        /** Achieved rate in MiB/s. */
        double mibPerSecond() {
            return elapsedNanos <= 0 ? 0 : bytes / (double) Sizes.MiB / (elapsedNanos / 1e9);
        }
    }

    private PacedWriter(NbdWriteClient nbd, long rate, long seed) {
        this.nbd = nbd;
        this.rate = rate;
        this.seed = seed;
        this.thread = Thread.ofPlatform().name("mirror-bench-writer").daemon().unstarted(this::loop);
    }

    /**
     * Starts writing into {@code nbd} at {@code rate} bytes per second. The writer owns the client
     * from here on and closes it when it stops.
     */
    static PacedWriter start(NbdWriteClient nbd, long rate, long seed) {
        if (rate <= 0) {
            throw new IllegalArgumentException("rate: " + rate + " (expected: > 0)");
        }
        if (nbd.exportSize() < BLOCK) {
            throw new IllegalArgumentException("export size: " + nbd.exportSize() + " (expected: >= " + BLOCK + ")");
        }
        PacedWriter w = new PacedWriter(nbd, rate, seed);
        w.thread.start();
        return w;
    }

    /**
     * Stops the writer and waits for it: every write it made is acknowledged and flushed when this
     * returns.
     *
     * @throws IOException the writer failed (with the cause), or did not stop in time
     */
    Figures stop(Duration timeout) throws IOException, InterruptedException {
        stopping = true;
        if (!thread.join(timeout)) {
            throw new IOException("NBD writer did not stop within " + timeout);
        }
        if (failure != null) {
            throw new IOException("NBD writer failed: " + failure.getMessage(), failure);
        }
        return new Figures(writes, writes * BLOCK, elapsedNanos);
    }

    private void loop() {
        SplittableRandom random = new SplittableRandom(seed);
        ByteBuffer pool = ByteBuffer.allocateDirect(POOL);
        while (pool.hasRemaining()) {
            pool.putLong(random.nextLong());
        }
        long blocks = nbd.exportSize() / BLOCK;
        long interval = Math.max(1, (long) (BLOCK * 1e9 / rate));
        long start = System.nanoTime();
        long due = start;
        long n = 0;
        try (NbdWriteClient c = nbd) {
            while (!stopping) {
                long now = System.nanoTime();
                if (now < due) {
                    // Pacing a rate, not waiting for a condition: the next write is due at a fixed time.
                    LockSupport.parkNanos(due - now);
                    continue;
                }
                int from = random.nextInt((POOL - BLOCK) / Long.BYTES) * Long.BYTES;
                c.write(random.nextLong(blocks) * BLOCK, pool.slice(from, BLOCK));
                n++;
                due = Math.max(due + interval, System.nanoTime() - MAX_LAG_NANOS);
            }
            c.flush();
        } catch (IOException | RuntimeException e) {
            failure = e;
        } finally {
            writes = n;
            elapsedNanos = System.nanoTime() - start;
        }
    }
}
