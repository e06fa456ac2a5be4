package dev.converge.nbd.driver;

import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.Errno;
import dev.converge.block.Extent;
import dev.converge.block.NodeOptions;
import dev.converge.nbd.client.NbdClient;
import dev.converge.nbd.export.BlockErrors;
import dev.converge.nbd.wire.NbdIoException;
import dev.converge.nbd.wire.NbdProtocol;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code nbd} block driver: a node whose storage is an NBD export, reached through an
 * {@link NbdClient} (QEMU's block/nbd.c). Errors from the server keep their errno (through
 * {@link BlockErrors}); a lost connection is EIO once reconnect-delay has passed.
 * <p>
 * MAY_UNMAP becomes the absence of NO_HOLE, NO_FALLBACK becomes FAST_ZERO, and block status maps
 * NBD's HOLE/ZERO back to DATA/ZERO (a hole that reads as zeroes is ZERO without DATA).
 */
public final class NbdNode extends BlockNode {
    private final NbdClient client;
    private final String filename;

    /** A node over an open client; the node owns it and closes it with itself. */
    public NbdNode(String nodeName, NodeOptions options, NbdClient client, String filename) {
        super(nodeName, "nbd", options);
        this.client = client;
        this.filename = filename;
    }

    @Override
    public long size() {
        return client.size();
    }

    @Override
    public String filename() {
        return filename;
    }

    @Override
    protected void doRead(long offset, MemorySegment dst) throws BlockIOException {
        try {
            client.read(offset, dst.asByteBuffer());
        } catch (IOException e) {
            throw toBlock(e);
        }
    }

    @Override
    protected void doWrite(long offset, MemorySegment src, boolean fua) throws BlockIOException {
        try {
            client.write(offset, src.asByteBuffer(), fua);
        } catch (IOException e) {
            throw toBlock(e);
        }
    }

    @Override
    protected void doWriteZeroes(long offset, long bytes, boolean mayUnmap, boolean noFallback)
            throws BlockIOException {
        try {
            client.writeZeroes(offset, bytes, mayUnmap, noFallback);
        } catch (IOException e) {
            throw toBlock(e);
        }
    }

    @Override
    protected void doDiscard(long offset, long bytes) throws BlockIOException {
        try {
            client.trim(offset, bytes);
        } catch (IOException e) {
            throw toBlock(e);
        }
    }

    @Override
    protected void doFlush() throws BlockIOException {
        try {
            client.flush();
        } catch (IOException e) {
            throw toBlock(e);
        }
    }

    @Override
    protected List<Extent> doBlockStatus(long offset, long bytes) throws BlockIOException {
        List<Extent> out = new ArrayList<>();
        long at = offset;
        long end = offset + bytes;
        try {
            while (at < end) {
                for (dev.converge.nbd.wire.Extent e : client.blockStatus(at, end - at)) {
                    out.add(new Extent(at, e.length(), blockFlags(e.flags())));
                    at += e.length();
                }
            }
        } catch (IOException e) {
            throw toBlock(e);
        }
        return out;
    }

    /** NBD base:allocation → block flags: not a hole means DATA; ZERO stays; always ALLOCATED (no backing). */
    static int blockFlags(int nbdFlags) {
        int f = Extent.ALLOCATED;
        if ((nbdFlags & NbdProtocol.STATE_HOLE) == 0) {
            f |= Extent.DATA;
        }
        if ((nbdFlags & NbdProtocol.STATE_ZERO) != 0) {
            f |= Extent.ZERO;
        }
        return f;
    }

    private BlockIOException toBlock(IOException e) {
        Errno errno = e instanceof NbdIoException n ? BlockErrors.toErrno(n.kind()) : Errno.EIO;
        return new BlockIOException(errno, "NBD node '" + nodeName() + "': " + e.getMessage(), e);
    }

    @Override
    protected void close() {
        client.close();
    }
}
