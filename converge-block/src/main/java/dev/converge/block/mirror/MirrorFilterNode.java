package dev.converge.block.mirror;

import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.ReqFlag;
import dev.converge.block.WriteFilterNode;
import dev.converge.block.WriteRequest;
import java.lang.foreign.MemorySegment;
import java.util.Set;

/**
 * QEMU's {@code mirror_top}: a filter the mirror puts above its source for the job's life, so
 * every user of the source writes through it. Reads pass straight to the source; writes go
 * through {@link MirrorJob#guestWrite}, which keeps them apart from copy operations on the same
 * granules and, in write-blocking mode, also writes them to the target.
 */
public final class MirrorFilterNode extends WriteFilterNode {
    /** The driver name query-named-block-nodes shows, as QEMU. */
    public static final String DRIVER = "mirror_top";

    /** The job; set once on the main loop before users are moved here, read by writers. */
    private volatile MirrorJob job;

    public MirrorFilterNode(String nodeName, BlockNode source) {
        super(nodeName, DRIVER, "backing", source);
    }

    void attach(MirrorJob job) {
        this.job = job;
    }

    @Override
    protected void intercept(WriteRequest.Kind kind, long offset, long bytes, MemorySegment data, Set<ReqFlag> flags,
            ChildWrite w) throws BlockIOException {
        MirrorJob j = job;
        if (j == null) {
            w.run();
        } else {
            j.guestWrite(kind, offset, bytes, data, flags, w);
        }
    }
}
