package dev.converge.nbd.export;

import dev.converge.block.BlockBackend;
import dev.converge.block.BlockIOException;
import dev.converge.block.HostFileRange;
import dev.converge.block.ReqFlag;
import dev.converge.block.bitmap.DirtyBitmap;
import dev.converge.nbd.server.NbdExportBackend;
import dev.converge.nbd.wire.Extent;
import dev.converge.nbd.wire.NbdIoException;
import dev.converge.nbd.wire.NbdProtocol;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Serves a block node over NBD through a {@link BlockBackend}: the export is a user of the node, so
 * <ul>
 * <li>every write goes through the node's one write path (before-write notifiers, dirty bitmaps: a
 *     mirror of the node sees the export's writes);</li>
 * <li>when a mirror pivots ({@code BlockGraph.replaceNode}), the backend's edge moves and the export
 *     serves the new node from the next request on.</li>
 * </ul>
 * Block errors become NBD errors with {@link BlockErrors}; base:allocation comes from the block
 * extents (no DATA → HOLE, ZERO → ZERO, as QEMU's nbd server); exported dirty bitmaps come from
 * {@link DirtyBitmap}s held since the export was made.
 * <p>
 * Thread-safe: all state is final; the backend and bitmaps are safe for concurrent I/O.
 */
public final class BlockNodeExportBackend implements NbdExportBackend {
    private final BlockBackend backend;
    private final long size;
    private final boolean readOnly;
    private final boolean writethrough;
    private final Map<String, DirtyBitmap> bitmaps;

    /**
     * @param backend      the export's user of the node (made with {@code BlockGraph.attachBackend(null, node)})
     * @param size         the node's size when exported (fixed while exported)
     * @param readOnly     refuse writes (the export is not writable, or the node is read-only)
     * @param writethrough every write is durable before its reply (QEMU's writethrough: a flush after each)
     * @param bitmaps      dirty bitmaps offered as qemu:dirty-bitmap:NAME, by name
     */
    public BlockNodeExportBackend(BlockBackend backend, long size, boolean readOnly, boolean writethrough,
                                  Map<String, DirtyBitmap> bitmaps) {
        this.backend = backend;
        this.size = size;
        this.readOnly = readOnly;
        this.writethrough = writethrough;
        this.bitmaps = Map.copyOf(bitmaps);
    }

    /** The user of the node this export goes through. */
    public BlockBackend blockBackend() {
        return backend;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws NbdIoException {
        try {
            backend.read(offset, MemorySegment.ofBuffer(dst));
            dst.position(dst.limit()); // the server's contract: filled means consumed, as a channel read
        } catch (BlockIOException e) {
            throw BlockErrors.toNbd(e);
        }
    }

    /** The node's host file range (a file node, raw over one, a job's filter above them), if it has one. */
    @Override
    public Optional<FileRegion> fileRegion(long offset, long length) throws NbdIoException {
        try {
            return backend.hostFileRange(offset, length).map(HostFileRegion::new);
        } catch (BlockIOException e) {
            throw BlockErrors.toNbd(e);
        }
    }

    /** A block layer host file range as the server's file region. */
    private record HostFileRegion(HostFileRange range) implements FileRegion {
        @Override
        public long length() {
            return range.length();
        }

        @Override
        public long transferTo(long from, long count, WritableByteChannel target) throws IOException {
            return range.transferTo(from, count, target);
        }

        @Override
        public void read(long from, ByteBuffer dst) throws IOException {
            range.read(from, dst);
        }

        @Override
        public void close() {
            range.close();
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws NbdIoException {
        try {
            backend.write(offset, MemorySegment.ofBuffer(src), fua || writethrough ? Set.of(ReqFlag.FUA) : Set.of());
            src.position(src.limit());
        } catch (BlockIOException e) {
            throw BlockErrors.toNbd(e);
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayTrim, boolean fastZero) throws NbdIoException {
        Set<ReqFlag> flags = EnumSet.noneOf(ReqFlag.class);
        if (mayTrim) {
            flags.add(ReqFlag.MAY_UNMAP);
        }
        if (fastZero) {
            flags.add(ReqFlag.NO_FALLBACK);
        }
        if (writethrough) {
            flags.add(ReqFlag.FUA);
        }
        try {
            backend.writeZeroes(offset, length, flags);
        } catch (BlockIOException e) {
            throw BlockErrors.toNbd(e);
        }
    }

    @Override
    public void trim(long offset, long length) throws NbdIoException {
        try {
            backend.discard(offset, length);
        } catch (BlockIOException e) {
            throw BlockErrors.toNbd(e);
        }
    }

    @Override
    public void flush() throws NbdIoException {
        try {
            backend.flush();
        } catch (BlockIOException e) {
            throw BlockErrors.toNbd(e);
        }
    }

    /** As QEMU: the node decides with NO_FALLBACK (ENOTSUP when it would have to write zero buffers). */
    @Override
    public boolean canFastZero() {
        return true;
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) throws NbdIoException {
        List<dev.converge.block.Extent> in;
        try {
            in = backend.blockStatus(offset, length);
        } catch (BlockIOException e) {
            throw BlockErrors.toNbd(e);
        }
        List<Extent> out = new ArrayList<>(in.size());
        long at = offset;
        long end = offset + length;
        for (dev.converge.block.Extent e : in) {
            long from = Math.max(at, e.offset());
            long to = Math.min(end, e.end());
            if (from != at || to <= from) {
                break; // extents must stay contiguous from offset; a gap would misreport
            }
            out.add(new Extent(Math.min(to - from, Extent.MAX_LENGTH), allocationFlags(e)));
            at = from + out.getLast().length();
            if (to - from > Extent.MAX_LENGTH) {
                break; // the rest in a later request: descriptors are 32-bit
            }
        }
        if (out.isEmpty()) {
            throw new NbdIoException(dev.converge.nbd.wire.IoErrorKind.IO,
                    "block-status of " + length + " bytes at " + offset + " returned no extent");
        }
        return out;
    }

    /** QEMU's mapping for base:allocation: no DATA means a hole, ZERO means reads as zero. */
    static int allocationFlags(dev.converge.block.Extent e) {
        return (e.isData() ? 0 : NbdProtocol.STATE_HOLE) | (e.isZero() ? NbdProtocol.STATE_ZERO : 0);
    }

    @Override
    public Optional<DirtyBitmapView> dirtyBitmap(String name) {
        DirtyBitmap b = bitmaps.get(name);
        return b == null ? Optional.empty() : Optional.of((off, len) -> dirtyExtents(b, off, len));
    }

    /** Runs of dirty and clean bytes from {@code offset}, clipped to the request and to 32-bit lengths. */
    static List<Extent> dirtyExtents(DirtyBitmap b, long offset, long length) {
        List<Extent> out = new ArrayList<>();
        long end = Math.min(offset + length, b.length());
        long at = offset;
        while (at < end && out.size() < 1024) {
            boolean dirty = b.isDirty(at, 1);
            long next = dirty ? b.nextClean(at) : b.nextDirty(at);
            long runEnd = next < 0 ? end : Math.min(next, end);
            long len = Math.min(runEnd - at, Extent.MAX_LENGTH);
            out.add(dirty ? Extent.dirty(len) : Extent.clean(len));
            at += len;
        }
        return out;
    }
}
