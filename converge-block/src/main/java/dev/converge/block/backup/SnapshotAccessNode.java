package dev.converge.block.backup;

import dev.converge.block.BlockChild;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Errno;
import dev.converge.block.Extent;
import dev.converge.block.NodeOptions;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * QEMU's {@code snapshot-access} driver: a read-only node over a {@code copy-before-write}
 * filter ({@code file}) that reads the backup's point-in-time image (fleecing: export it over
 * NBD and a client copies the disk as it was when the backup began, while the guest writes on).
 * Writes are refused; once the backup ended, or over any other node, reads fail with EIO.
 */
public final class SnapshotAccessNode extends BlockNode {
    /** The driver name, as QEMU. */
    public static final String DRIVER = "snapshot-access";

    private final BlockChild file;
    /** The size when opened: the point-in-time image does not change size. */
    private final long size;

    public SnapshotAccessNode(String nodeName, NodeOptions options, BlockNode file) throws BlockIOException {
        super(nodeName, DRIVER, options.withReadOnly(true));
        this.file = addChild("file", file);
        this.size = file.size();
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public String filename() {
        return file.node().filename();
    }

    @Override
    protected void doRead(long offset, MemorySegment dst) throws BlockIOException {
        if (!(file.node() instanceof BackupFilterNode f)) {
            throw new BlockIOException(Errno.EIO, "snapshot-access node '" + nodeName()
                    + "' is not above a copy-before-write filter");
        }
        f.snapshotRead(offset, dst);
    }

    @Override
    protected void doWrite(long offset, MemorySegment src, boolean fua) throws BlockIOException {
        throw refused();
    }

    @Override
    protected void doWriteZeroes(long offset, long bytes, boolean mayUnmap, boolean noFallback)
            throws BlockIOException {
        throw refused();
    }

    @Override
    protected void doDiscard(long offset, long bytes) throws BlockIOException {
        throw refused();
    }

    private BlockIOException refused() {
        return new BlockIOException(Errno.EPERM, "snapshot-access node '" + nodeName() + "' is read-only");
    }

    @Override
    protected void doFlush() {
    }

    /** All data: the point in time has no allocation information of its own. */
    @Override
    protected List<Extent> doBlockStatus(long offset, long bytes) {
        return List.of(new Extent(offset, bytes, Extent.DATA | Extent.ALLOCATED));
    }
}
