package dev.converge.block.driver;

import dev.converge.block.BlockChild;
import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Extent;
import dev.converge.block.HostFileSpan;
import dev.converge.block.NodeOptions;
import dev.converge.block.ReqFlag;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The {@code raw} format driver: the bytes of its {@code file} child, optionally a window
 * [offset, offset + size) of it. Requests are checked against the window by the node's write
 * path (reads past the end EINVAL, writes ENOSPC, as QEMU's raw_adjust_offset) and shifted.
 */
public final class RawNode extends BlockNode {
    private final BlockChild file;
    private final long offset;
    private final long size;

    private RawNode(String nodeName, NodeOptions options, BlockNode file, long offset, long size) {
        super(nodeName, "raw", options);
        this.file = addChild("file", file);
        this.offset = offset;
        this.size = size;
    }

    /**
     * @param offset window start in the child (QEMU option {@code offset}, default 0)
     * @param size   window size, or empty for "to the end of the child"
     * @throws OpenException with QEMU's texts for a window that does not fit
     */
    public static RawNode open(String nodeName, NodeOptions options, BlockNode file, long offset, OptionalLong size)
            throws OpenException {
        long real;
        try {
            real = file.size();
        } catch (BlockIOException e) {
            throw new OpenException("Could not get image size: " + e.getMessage());
        }
        if (offset > real) {
            throw new OpenException("Offset (" + offset + ") cannot be greater than size of the containing file ("
                    + real + ")");
        }
        if (size.isPresent() && real - offset < size.getAsLong()) {
            // QEMU's text, double space included
            throw new OpenException("The sum of offset (" + offset + ") and size (" + size.getAsLong()
                    + ") has to be smaller or equal to the  actual size of the containing file (" + real + ")");
        }
        if (size.isPresent() && size.getAsLong() % 512 != 0) {
            throw new OpenException("Specified size is not multiple of 512");
        }
        return new RawNode(nodeName, options, file, offset, size.orElse(real - offset));
    }

    /** Window start in the child. */
    public long offset() {
        return offset;
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
    public OptionalLong actualSize() {
        return file.node().actualSize();
    }

    @Override
    protected void doRead(long off, MemorySegment dst) throws BlockIOException {
        file.read(offset + off, dst);
    }

    /** The child's bytes, shifted by the window's start. */
    @Override
    protected <T> Optional<T> doHostFileSpan(long off, long bytes, HostFileSpan.Use<T> use) throws BlockIOException {
        return file.hostFileSpan(offset + off, bytes, use);
    }

    /** As the child: its bytes, shifted. */
    @Override
    public boolean readsAsHostFile() {
        return file.node().readsAsHostFile();
    }

    /** As the child: the bytes go to it one to one, shifted. */
    @Override
    public boolean writesFromHostFiles() {
        return file.node().writesFromHostFiles();
    }

    @Override
    protected void doWriteFromHostFile(long off, HostFileSpan src, boolean fua) throws BlockIOException {
        file.writeFromHostFile(offset + off, src, fua ? Set.of(ReqFlag.FUA) : Set.of());
    }

    @Override
    protected void doWrite(long off, MemorySegment src, boolean fua) throws BlockIOException {
        file.write(offset + off, src, fua ? Set.of(ReqFlag.FUA) : Set.of());
    }

    @Override
    protected void doWriteZeroes(long off, long bytes, boolean mayUnmap, boolean noFallback) throws BlockIOException {
        Set<ReqFlag> flags = mayUnmap && noFallback ? Set.of(ReqFlag.MAY_UNMAP, ReqFlag.NO_FALLBACK)
                : mayUnmap ? Set.of(ReqFlag.MAY_UNMAP) : noFallback ? Set.of(ReqFlag.NO_FALLBACK) : Set.of();
        file.writeZeroes(offset + off, bytes, flags);
    }

    @Override
    protected void doDiscard(long off, long bytes) throws BlockIOException {
        file.discard(offset + off, bytes);
    }

    @Override
    protected void doFlush() throws BlockIOException {
        file.flush();
    }

    @Override
    protected List<Extent> doBlockStatus(long off, long bytes) throws BlockIOException {
        List<Extent> out = new ArrayList<>();
        for (Extent e : file.blockStatus(offset + off, bytes)) {
            out.add(new Extent(e.offset() - offset, e.length(), e.flags()));
        }
        return out;
    }
}
