package dev.converge.block.mirror;

import dev.converge.block.BlockIOException;
import dev.converge.block.Extent;
import java.util.List;

/**
 * A mirror target in memory whose writes from a job's copy threads ({@code JOBID-copy-N}) can
 * be held until {@link #release()}; every other writer (the guest's write-blocking writes) passes
 * at once. It says whether it {@linkplain #writesIntoHostPageCache writes into the host page
 * cache} as told, so a test sees how a mirror treats such a target, and it counts the copy writes
 * waiting at the hold.
 */
final class HeldCopyWritesNode extends MemoryTestNode {
    private final boolean pageCache;
    private final Hold copyWrites = new Hold(true);

    HeldCopyWritesNode(String nodeName, int size, boolean pageCache) {
        super(nodeName, "test-held-copy-writes", new byte[size]);
        this.pageCache = pageCache;
    }

    void release() {
        copyWrites.release();
    }

    /** Copy writes waiting at the hold now. */
    int waiting() {
        return copyWrites.waiting();
    }

    @Override
    public boolean writesIntoHostPageCache() {
        return pageCache;
    }

    @Override
    public String filename() {
        return "held-copy-writes:" + nodeName();
    }

    /** A copy thread's write waits at the hold; the guest's passes. */
    @Override
    protected void beforeWrite() {
        if (Thread.currentThread().getName().contains("-copy-")) {
            copyWrites.pass();
        }
    }

    @Override
    protected List<Extent> doBlockStatus(long offset, long bytes) throws BlockIOException {
        return List.of(new Extent(offset, bytes, Extent.DATA | Extent.ALLOCATED)); // never skipped: every granule is copied
    }
}
