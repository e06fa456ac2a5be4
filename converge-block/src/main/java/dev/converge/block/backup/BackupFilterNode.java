package dev.converge.block.backup;

import dev.converge.block.BlockChild;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Errno;
import dev.converge.block.ReqFlag;
import dev.converge.block.WriteFilterNode;
import dev.converge.block.WriteRequest;
import java.lang.foreign.MemorySegment;
import java.util.Set;

/**
 * QEMU's {@code copy-before-write} filter: the backup puts it above its source for the job's
 * life, so every user of the source writes through it. Reads pass to the source; a write,
 * write-zeroes or discard first has {@link BlockCopy#copyBeforeWrite} put the old data of the
 * clusters it touches on the target, then goes to the source. Its children are the source
 * ({@code file}) and the target ({@code target}), as QEMU's.
 * <p>
 * It also serves the point-in-time image to {@link SnapshotAccessNode}s above it (fleecing).
 */
public final class BackupFilterNode extends WriteFilterNode {
    /** The driver name query-named-block-nodes shows, as QEMU. */
    public static final String DRIVER = "copy-before-write";

    private final BlockChild target;
    /** The copy state; set once on the main loop before users are moved here, cleared at the job's end. */
    private volatile BlockCopy copy;

    BackupFilterNode(String nodeName, BlockNode source, BlockNode target) {
        super(nodeName, DRIVER, "file", source);
        this.target = addChild("target", target);
    }

    BlockChild fileEdge() {
        return childEdge();
    }

    BlockChild targetEdge() {
        return target;
    }

    void attach(BlockCopy c) {
        this.copy = c;
    }

    /**
     * Reads the backup's point-in-time image (what the source held when the backup began).
     *
     * @throws BlockIOException EIO once the backup ended (as QEMU, reading a snapshot of no
     *                          filter), EACCES for bytes outside the backup
     */
    void snapshotRead(long offset, MemorySegment dst) throws BlockIOException {
        BlockCopy c = copy;
        if (c == null) {
            throw new BlockIOException(Errno.EIO, "the backup of node '" + nodeName() + "' has ended");
        }
        c.snapshotRead(offset, dst);
    }

    /** Copy-before-write, then the source's write. */
    @Override
    protected void intercept(WriteRequest.Kind kind, long offset, long bytes, MemorySegment data, Set<ReqFlag> flags,
            ChildWrite w) throws BlockIOException {
        BlockCopy c = copy;
        if (c != null) {
            c.copyBeforeWrite(offset, bytes);
        }
        w.run();
    }
}
