package dev.converge.block.backup;

import dev.converge.block.BlockChild;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Errno;
import dev.converge.block.Extent;
import dev.converge.block.NodeOptions;
import dev.converge.block.ReqFlag;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.OptionalLong;
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
public final class BackupFilterNode extends BlockNode {
    /** The driver name query-named-block-nodes shows, as QEMU. */
    public static final String DRIVER = "copy-before-write";

    private final BlockChild file;
    private final BlockChild target;
    /** The copy state; set once on the main loop before users are moved here, cleared at the job's end. */
    private volatile BlockCopy copy;

    BackupFilterNode(String nodeName, BlockNode source, BlockNode target) {
        super(nodeName, DRIVER, NodeOptions.DEFAULTS.withDiscardUnmap(true));
        this.file = addChild("file", source);
        this.target = addChild("target", target);
    }

    BlockChild fileEdge() {
        return file;
    }

    BlockChild targetEdge() {
        return target;
    }

    void attach(BlockCopy c) {
        this.copy = c;
    }

    /** The node below. */
    public BlockNode source() {
        return file.node();
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

    @Override
    public long size() throws BlockIOException {
        return file.node().size();
    }

    @Override
    public String filename() {
        return file.node().filename();
    }

    @Override
    public OptionalLong actualSize() {
        return file.node().actualSize();
    }

    @Override
    protected void doRead(long offset, MemorySegment dst) throws BlockIOException {
        file.read(offset, dst);
    }

    @Override
    protected void doWrite(long offset, MemorySegment src, boolean fua) throws BlockIOException {
        copyBeforeWrite(offset, src.byteSize());
        file.write(offset, src, fua ? Set.of(ReqFlag.FUA) : Set.of());
    }

    @Override
    protected void doWriteZeroes(long offset, long bytes, boolean mayUnmap, boolean noFallback)
            throws BlockIOException {
        copyBeforeWrite(offset, bytes);
        file.writeZeroes(offset, bytes, ReqFlag.writeZeroes(mayUnmap, noFallback));
    }

    @Override
    protected void doDiscard(long offset, long bytes) throws BlockIOException {
        copyBeforeWrite(offset, bytes);
        file.discard(offset, bytes);
    }

    private void copyBeforeWrite(long offset, long bytes) throws BlockIOException {
        BlockCopy c = copy;
        if (c != null) {
            c.copyBeforeWrite(offset, bytes);
        }
    }

    @Override
    protected void doFlush() throws BlockIOException {
        file.flush();
    }

    @Override
    protected List<Extent> doBlockStatus(long offset, long bytes) throws BlockIOException {
        return file.blockStatus(offset, bytes);
    }
}
