package dev.converge.block.mirror;

import dev.converge.block.BlockChild;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Extent;
import dev.converge.block.NodeOptions;
import dev.converge.block.ReqFlag;
import dev.converge.block.WriteRequest;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;

/**
 * QEMU's {@code mirror_top}: a filter the mirror puts above its source for the job's life, so
 * every user of the source writes through it. Reads pass straight to the source; writes go
 * through {@link MirrorJob#guestWrite}, which keeps them apart from copy operations on the same
 * granules and, in write-blocking mode, also writes them to the target.
 * <p>
 * Its {@code discard=unmap} only passes discards on: the source applies its own option.
 */
public final class MirrorFilterNode extends BlockNode {
    /** The driver name query-named-block-nodes shows, as QEMU. */
    public static final String DRIVER = "mirror_top";

    private final BlockChild source;
    /** The job; set once on the main loop before users are moved here, read by writers. */
    private volatile MirrorJob job;

    public MirrorFilterNode(String nodeName, BlockNode source) {
        super(nodeName, DRIVER, NodeOptions.DEFAULTS.withDiscardUnmap(true));
        this.source = addChild("backing", source);
    }

    void attach(MirrorJob job) {
        this.job = job;
    }

    /** The node below. */
    public BlockNode source() {
        return source.node();
    }

    @Override
    public long size() throws BlockIOException {
        return source.node().size();
    }

    @Override
    public String filename() {
        return source.node().filename();
    }

    @Override
    public OptionalLong actualSize() {
        return source.node().actualSize();
    }

    @Override
    protected void doRead(long offset, MemorySegment dst) throws BlockIOException {
        source.read(offset, dst);
    }

    @Override
    protected void doWrite(long offset, MemorySegment src, boolean fua) throws BlockIOException {
        Set<ReqFlag> flags = fua ? Set.of(ReqFlag.FUA) : Set.of();
        write(WriteRequest.Kind.WRITE, offset, src.byteSize(), src, flags, () -> source.write(offset, src, flags));
    }

    @Override
    protected void doWriteZeroes(long offset, long bytes, boolean mayUnmap, boolean noFallback)
            throws BlockIOException {
        Set<ReqFlag> flags = ReqFlag.writeZeroes(mayUnmap, noFallback);
        write(WriteRequest.Kind.WRITE_ZEROES, offset, bytes, null, flags,
                () -> source.writeZeroes(offset, bytes, flags));
    }

    @Override
    protected void doDiscard(long offset, long bytes) throws BlockIOException {
        write(WriteRequest.Kind.DISCARD, offset, bytes, null, Set.of(), () -> source.discard(offset, bytes));
    }

    private void write(WriteRequest.Kind kind, long offset, long bytes, MemorySegment data, Set<ReqFlag> flags,
            MirrorJob.SourceWrite w) throws BlockIOException {
        MirrorJob j = job;
        if (j == null) {
            w.run();
        } else {
            j.guestWrite(kind, offset, bytes, data, flags, w);
        }
    }

    @Override
    protected void doFlush() throws BlockIOException {
        source.flush();
    }

    @Override
    protected List<Extent> doBlockStatus(long offset, long bytes) throws BlockIOException {
        return source.blockStatus(offset, bytes);
    }
}
