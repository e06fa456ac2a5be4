package dev.converge.block.mirror;

import dev.converge.block.Extent;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A mirror target in memory that counts its flushes and holds the first one until
 * {@link #release()}: a test writes the source while a mirror's flush is in progress.
 */
final class HeldFlushNode extends MemoryTestNode {
    private final Hold firstFlush = new Hold(true);
    private final AtomicInteger flushes = new AtomicInteger();

    HeldFlushNode(String nodeName, int size) {
        super(nodeName, "test-held-flush", new byte[size]);
    }

    void release() {
        firstFlush.release();
    }

    /** Flushes waiting at the hold now. */
    int waiting() {
        return firstFlush.waiting();
    }

    /** Flushes that began so far. */
    int flushes() {
        return flushes.get();
    }

    @Override
    public String filename() {
        return "held-flush:" + nodeName();
    }

    @Override
    protected void beforeFlush() {
        if (flushes.incrementAndGet() == 1) {
            firstFlush.pass();
        }
    }

    @Override
    protected List<Extent> doBlockStatus(long offset, long bytes) {
        return List.of(new Extent(offset, bytes, Extent.DATA | Extent.ALLOCATED));
    }
}
