package dev.converge.nbd.server;

import dev.converge.qmp.tls.Transport;
import dev.converge.nbd.wire.Extent;
import dev.converge.nbd.wire.IoErrorKind;
import dev.converge.nbd.wire.NbdIoException;
import dev.converge.nbd.wire.NbdProtocol.Command;
import dev.converge.nbd.wire.NbdProtocol.CommandFlag;
import dev.converge.nbd.wire.NbdProtocol.Errno;
import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.nbd.wire.NbdProtocolException;
import dev.converge.nbd.wire.Request;
import dev.converge.nbd.wire.RequestDecoder;
import dev.converge.nbd.wire.StructuredChunk;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transmission phase of one connection. The calling (reader) thread decodes requests and hands
 * each to a thread of {@link RequestThreads}, at most {@code maxInFlight} at a time
 * (the reader blocks on {@link #inFlight} beyond that, so a client cannot make us buffer without
 * bound). WRITE payloads are read straight from the socket into pooled direct buffers
 * ({@link ConnectionMemory}, taken only after the length check), which go to the backend as they are;
 * READ buffers are taken by the reader before the request is handed on, so a connection's memory is
 * bounded and a request the process-wide budget has no room for is answered ENOMEM. Replies go out
 * through one {@link ReplyWriter} in whatever order requests finish; clients match them by cookie.
 *
 * <p>On DISC, end of stream or a framing error the reader stops, waits until every request in
 * flight has been answered (or failed to be), and returns. Errors of one request are answered with
 * the protocol's errno and never end the connection; only failures to write do.
 */
final class Transmission {
    private static final Logger LOG = LoggerFactory.getLogger(Transmission.class);
    /** Most descriptors in one BLOCK_STATUS chunk (QEMU caps its replies likewise). */
    static final int MAX_EXTENTS = 1 << 16;
    /** How far past a read the allocation is asked for, to remember a data range (see {@link #readExtents}). */
    static final long STATUS_LOOKAHEAD = 64L << 20;

    private final NbdExport export;
    private final NbdExportBackend backend;
    private final boolean structured;
    /** Whether extended headers (32-byte requests and replies, 64-bit lengths) were agreed. */
    private final boolean extended;
    private final List<MetaContext> contexts;
    private final Transport transport;
    private final ReplyWriter writer;
    private final int maxInFlight;
    /** Permits for requests in flight; the reader takes one per request, the handler returns it. */
    private final Semaphore inFlight;
    /** READ data and WRITE payload buffers: this connection's share of the process-wide budget. */
    private final ConnectionMemory memory;
    private final String name;
    /**
     * The data range found by sparse reads, or null; a hint (see {@link DataRange}): the ranges found
     * are joined while they overlap or meet, else the longer one is kept. Set and read by request
     * threads without a lock: ranges are immutable, and a range found is joined atomically into the
     * one known then (not the one known when the query began: requests in flight at once would
     * undo each other's joins).
     */
    private final AtomicReference<DataRange> knownData = new AtomicReference<>();
    /**
     * Set once a reply could not be written (the socket is closed): the reader stops instead of
     * working through requests it had already buffered for a client that is gone.
     */
    private volatile boolean broken;

    Transmission(Handshake.Transmitting t, Transport transport, int maxInFlight, ConnectionMemory memory,
                 String name) {
        this.export = t.export();
        this.backend = export.backend();
        this.extended = t.extended();
        this.structured = t.structured() || extended; // extended headers imply structured replies
        this.contexts = t.contexts();
        this.transport = transport;
        this.writer = new ReplyWriter(transport, t.structured(), t.extended());
        this.maxInFlight = maxInFlight;
        this.inFlight = new Semaphore(maxInFlight);
        this.memory = memory;
        this.name = name;
    }

    /**
     * Serves requests until DISC or end of stream; {@code in} holds bytes already read (write mode).
     * Returns normally on DISC and EOF; throws on framing errors or a broken socket.
     */
    void run(ByteBuffer in) throws IOException {
        // WRITE payloads land in pooled direct buffers that go to the backend as they are
        // (null from the budget: the decoder reads past the payload and the WRITE is answered ENOMEM)
        RequestDecoder decoder = new RequestDecoder(memory::take).extended(extended);
        ByteBuffer[] scatter = new ByteBuffer[2];
        try {
            while (true) {
                in.flip();
                Request r;
                try {
                    r = decoder.decode(in);
                } finally {
                    in.compact();
                }
                if (r == null) {
                    ByteBuffer payload = decoder.payloadInProgress();
                    long n;
                    if (payload != null) {
                        // the decoder took all of `in`; one readv fills the payload, then the next headers
                        scatter[0] = payload;
                        scatter[1] = in;
                        n = transport.read(scatter);
                        scatter[0] = null;
                    } else {
                        n = transport.read(in);
                    }
                    if (n < 0) {
                        LOG.debug("{}: end of stream", name);
                        return;
                    }
                    continue;
                }
                Command c;
                try {
                    c = r.command();
                } catch (NbdProtocolException.UnknownCode e) {
                    writer.error(r, Errno.EINVAL, "unsupported command " + r.type());
                    continue;
                }
                if (c == Command.DISC) {
                    LOG.debug("{}: client disconnected", name);
                    return;
                }
                if (broken) {
                    LOG.debug("{}: a reply failed; dropping the requests still buffered", name);
                    release(r, null);
                    return;
                }
                inFlight.acquireUninterruptibly();
                try {
                    ByteBuffer data = null;
                    boolean refused = c == Command.WRITE && r.payloadDropped()
                            && r.length() <= NbdProtocol.MAX_BUFFER_SIZE
                            && (!extended || r.has(CommandFlag.PAYLOAD_LEN)); // else: EINVAL, no payload sent
                    if (c == Command.READ && r.length() > 0 && r.length() <= NbdProtocol.MAX_BUFFER_SIZE) {
                        data = memory.take((int) r.length()); // waits for memory here, in the reader
                        refused = data == null;
                    }
                    if (broken) { // the client went while this reader waited for memory
                        release(r, data);
                        inFlight.release();
                        return;
                    }
                    ByteBuffer readBuffer = data;
                    boolean noMemory = refused;
                    Runnable task = () -> {
                        try {
                            handle(r, c, readBuffer, noMemory);
                        } finally {
                            // the buffers and the permit go back once this request's replies are out
                            // (the writer may still hold them queued), so both bound unsent replies too
                            whenRepliesSent(() -> {
                                release(r, readBuffer);
                                inFlight.release();
                            });
                        }
                    };
                    boolean quick = (c == Command.READ || c == Command.WRITE) && !r.has(CommandFlag.FUA)
                            && r.length() <= RequestThreads.QUICK_IO;
                    RequestThreads.execute(task, quick);
                } catch (RuntimeException | Error e) {
                    inFlight.release();
                    throw e;
                }
            }
        } finally {
            ByteBuffer partial = decoder.payloadInProgress(); // a WRITE cut off by the end of the stream
            if (partial != null) {
                memory.give(partial, partial.limit());
            }
            // every handler ends: backend calls return and writes to a closed socket fail
            inFlight.acquireUninterruptibly(maxInFlight);
            inFlight.release(maxInFlight);
        }
    }

    /** A request refused before it reaches the backend. */
    private record Rejection(Errno errno, String message) {
    }

    /**
     * Runs one request on a request thread. {@code data} is the READ buffer the reader took, and
     * {@code noMemory} says the budget had none for this READ or WRITE: it is answered ENOMEM.
     */
    private void handle(Request r, Command c, ByteBuffer data, boolean noMemory) {
        if (noMemory) {
            LOG.debug("{}: no memory for {}", name, r);
            reply(r, new Rejection(Errno.ENOMEM, "out of memory for request buffers (" + r.length()
                    + " bytes asked)"));
        } else {
            handleRequest(r, c, data);
        }
    }

    /** Runs {@code action} once the replies this thread queued are out (or the connection broke). */
    private void whenRepliesSent(Runnable action) {
        try {
            writer.afterReplies(action);
        } catch (IOException e) {
            LOG.debug("{}: cannot send replies: {}", name, e.toString());
            closeQuietly();
        }
    }

    /** Gives back the request's WRITE payload and READ buffer, if it has them. */
    private void release(Request r, ByteBuffer data) {
        if (r.payload() != null) {
            memory.give(r.payload(), (int) r.length());
        }
        if (data != null) {
            memory.give(data, (int) r.length());
        }
    }

    private void reply(Request r, Rejection rej) {
        try {
            writer.error(r, rej.errno(), rej.message());
        } catch (IOException e) {
            LOG.debug("{}: cannot send reply to {}: {}", name, r, e.toString());
            closeQuietly();
        }
    }

    private void handleRequest(Request r, Command c, ByteBuffer data) {
        try {
            Rejection rej = validate(r, c);
            if (rej != null) {
                writer.error(r, rej.errno(), rej.message());
                return;
            }
            try {
                execute(r, c, data);
            } catch (NbdIoException e) {
                writer.error(r, e.kind().toErrno(), e.getMessage());
            } catch (RuntimeException e) {
                // a backend bug, not the client's fault: keep the connection, report EIO, log loudly
                LOG.error("{}: {} failed in the backend", name, r, e);
                writer.error(r, Errno.EIO, "internal error: " + e);
            }
        } catch (IOException e) {
            LOG.debug("{}: cannot send reply to {}: {}", name, r, e.toString());
            closeQuietly();
        }
    }

    private Rejection validate(Request r, Command c) {
        switch (c) {
            case CACHE, RESIZE, DISC -> {
                return new Rejection(Errno.EINVAL, "unsupported command " + c);
            }
            default -> {
            }
        }
        long len = r.length();
        if ((c == Command.READ || c == Command.WRITE) && len > NbdProtocol.MAX_BUFFER_SIZE) {
            return new Rejection(Errno.EOVERFLOW, "len (" + len + ") is larger than max len ("
                    + NbdProtocol.MAX_BUFFER_SIZE + ")");
        }
        boolean writes = c == Command.WRITE || c == Command.WRITE_ZEROES || c == Command.TRIM;
        if (writes && !export.writable()) {
            return new Rejection(Errno.EPERM, "export is read-only");
        }
        long size = backend.size();
        if (c != Command.FLUSH && (r.offset() < 0 || r.offset() > size || len > size - r.offset())) {
            return new Rejection(c == Command.WRITE || c == Command.WRITE_ZEROES ? Errno.ENOSPC : Errno.EINVAL,
                    "operation past EOF");
        }
        if (extended && c == Command.WRITE && !r.has(CommandFlag.PAYLOAD_LEN)) {
            return new Rejection(Errno.EINVAL, "WRITE without NBD_CMD_FLAG_PAYLOAD_LEN under extended headers");
        }
        int allowed = (int) CommandFlag.FUA.code();
        switch (c) {
            case READ -> allowed |= structured ? (int) CommandFlag.DF.code() : 0;
            case WRITE -> allowed |= extended ? (int) CommandFlag.PAYLOAD_LEN.code() : 0;
            case WRITE_ZEROES -> allowed |= (int) (CommandFlag.NO_HOLE.code() | CommandFlag.FAST_ZERO.code());
            case BLOCK_STATUS -> allowed |= (int) CommandFlag.REQ_ONE.code();
            default -> {
            }
        }
        if ((r.flags() & ~allowed) != 0) {
            return new Rejection(Errno.EINVAL, "unsupported flags for command " + c + " (got 0x"
                    + Integer.toHexString(r.flags()) + ")");
        }
        if (c == Command.BLOCK_STATUS) {
            if (contexts.isEmpty()) {
                return new Rejection(Errno.EINVAL, "CMD_BLOCK_STATUS not negotiated");
            }
            if (len == 0) {
                return new Rejection(Errno.EINVAL, "zero-length block status request");
            }
        }
        return null;
    }

    private void execute(Request r, Command c, ByteBuffer data) throws IOException {
        long cookie = r.cookie();
        switch (c) {
            case READ -> read(r, data);
            case WRITE -> {
                backend.write(r.offset(), r.payload(), r.has(CommandFlag.FUA));
                writer.done(r);
            }
            case FLUSH -> {
                backend.flush();
                writer.done(r);
            }
            case TRIM -> {
                if (r.length() > 0) {
                    backend.trim(r.offset(), r.length());
                }
                if (r.has(CommandFlag.FUA)) {
                    backend.flush();
                }
                writer.done(r);
            }
            case WRITE_ZEROES -> {
                boolean fast = r.has(CommandFlag.FAST_ZERO);
                if (fast && !backend.canFastZero()) {
                    writer.error(r, Errno.ENOTSUP, "fast zeroing is not supported");
                    return;
                }
                if (r.length() > 0) {
                    backend.writeZeroes(r.offset(), r.length(), !r.has(CommandFlag.NO_HOLE), fast);
                }
                if (r.has(CommandFlag.FUA)) {
                    backend.flush();
                }
                writer.done(r);
            }
            case BLOCK_STATUS -> blockStatus(r);
            case DISC, CACHE, RESIZE -> throw new IllegalStateException(c + " passed validation");
        }
    }

    private void read(Request r, ByteBuffer data) throws IOException {
        long cookie = r.cookie();
        int len = (int) r.length();
        if (len == 0) {
            if (structured) {
                writer.chunk(r, StructuredChunk.none(cookie));
            } else {
                writer.done(r);
            }
            return;
        }
        if (!structured || r.has(CommandFlag.DF)) {
            sendData(r, r.offset(), data, true);
        } else {
            sparseRead(r, data);
        }
    }

    /**
     * Sends the export's bytes at {@code pos}, as many as {@code buf} has room for, as READ data (a
     * simple reply or an OFFSET_DATA chunk). A large read on a plain socket whose backend can name
     * them as a host file range goes out with sendfile, without passing through {@code buf}
     * ({@link ReplyWriter#fileData}); the rest are read into {@code buf} and written from there.
     * Small reads stay on the buffered path: they run on virtual threads, where a sendfile that
     * reads from disk would pin the carrier, and one copy of 4 KiB costs less than the extra calls.
     */
    private void sendData(Request r, long pos, ByteBuffer buf, boolean last) throws IOException {
        if (buf.remaining() > RequestThreads.QUICK_IO && writer.sendsFiles()) {
            Optional<NbdExportBackend.FileRegion> region = backend.fileRegion(pos, buf.remaining());
            if (region.isPresent()) {
                writer.fileData(r, pos, region.get(), buf, last); // the writer closes the region once sent
                return;
            }
        }
        backend.read(pos, buf);
        buf.flip();
        if (structured) {
            writer.data(r, pos, buf, last);
        } else {
            writer.simpleData(r, buf);
        }
    }

    /** Data chunks for allocated ranges and hole chunks for ranges that read as zeroes, as qemu-nbd. */
    private void sparseRead(Request r, ByteBuffer data) throws IOException {
        long cookie = r.cookie();
        List<Extent> extents = readExtents(r.offset(), r.length());
        long pos = r.offset();
        boolean sent = false;
        try {
            for (int i = 0; i < extents.size(); i++) {
                Extent e = extents.get(i);
                boolean last = i == extents.size() - 1;
                if (e.readsAsZero()) {
                    writer.chunk(r, StructuredChunk.hole(cookie, pos, (int) e.length(), last));
                } else {
                    sendData(r, pos, data.slice((int) (pos - r.offset()), (int) e.length()), last);
                }
                sent = true;
                pos += e.length();
            }
        } catch (NbdIoException e) {
            if (!sent) {
                throw e;
            }
            writer.chunk(r, StructuredChunk.errorOffset(cookie, e.kind().toErrno(), e.getMessage(), pos, true));
        }
    }

    /**
     * The extents a sparse read of [offset, offset+length) answers with. A range this connection
     * already found to be data is read without asking the backend again; otherwise the backend is
     * asked about up to {@link #STATUS_LOOKAHEAD} bytes, and a data extent at the start is remembered,
     * so sequential reads cost one status query (two lseeks on a file) per lookahead instead of per
     * request (QEMU keeps a similar cache of one data range per node). Random reads over data join
     * the ranges they found until one covers the disk, then cost none: the status of a range costs a
     * format node time in proportion to its length (qcow2: one L2 entry per cluster).
     */
    List<Extent> readExtents(long offset, long length) throws NbdIoException {
        DataRange known = knownData.get();
        if (known != null && known.covers(offset, length)) {
            return List.of(Extent.data(length));
        }
        long ahead = Math.min(backend.size() - offset, Math.max(length, STATUS_LOOKAHEAD));
        Extent first = normalize(backend.blockStatus(offset, ahead), ahead, true).getFirst();
        if (first.readsAsZero()) {
            return cover(offset, length, backend::blockStatus);
        }
        DataRange found = new DataRange(offset, offset + first.length());
        knownData.updateAndGet(k -> k == null ? found : k.joinedOrLonger(found));
        return first.length() >= length ? List.of(first.withLength(length))
                : cover(offset, length, backend::blockStatus);
    }

    /**
     * Bytes [start, end) found to read as data. Claiming data is always safe for a read (the bytes
     * are read and sent as they are), so the range is never invalidated: if it turns into a hole
     * later (trim, zeroing), reads of it send zeroes as data where a hole chunk would have done.
     */
    record DataRange(long start, long end) {
        boolean covers(long offset, long length) {
            return offset >= start && offset + length <= end;
        }

        /** This range and {@code other} as one when they overlap or meet, else the longer (this one on a tie). */
        DataRange joinedOrLonger(DataRange other) {
            if (other.start <= end && start <= other.end) {
                return new DataRange(Math.min(start, other.start), Math.max(end, other.end));
            }
            return other.end - other.start > end - start ? other : this;
        }
    }

    private void blockStatus(Request r) throws IOException {
        boolean one = r.has(CommandFlag.REQ_ONE);
        List<StructuredChunk> chunks = new ArrayList<>();
        for (int i = 0; i < contexts.size(); i++) {
            MetaContext ctx = contexts.get(i);
            Source source;
            if (ctx.bitmap() == null) {
                source = backend::blockStatus;
            } else {
                NbdExportBackend.DirtyBitmapView view = backend.dirtyBitmap(ctx.bitmap()).orElseThrow(
                        () -> new NbdIoException(IoErrorKind.INVALID, "dirty bitmap '" + ctx.bitmap() + "' is gone"));
                source = view::extents;
            }
            List<Extent> extents = normalize(source.extents(r.offset(), r.length()), r.length(), one);
            boolean last = i == contexts.size() - 1;
            chunks.add(extended ? StructuredChunk.blockStatusExt(r.cookie(), ctx.id(), extents, last)
                    : StructuredChunk.blockStatus(r.cookie(), ctx.id(), extents, last));
        }
        for (StructuredChunk c : chunks) {
            writer.chunk(r, c);
        }
    }

    /** Where extents come from: the backend's allocation or a dirty bitmap. */
    @FunctionalInterface
    interface Source {
        List<Extent> extents(long offset, long length) throws NbdIoException;
    }

    /** Extents covering exactly [offset, offset+length), merged, asking the source again where it stopped short. */
    static List<Extent> cover(long offset, long length, Source source) throws NbdIoException {
        List<Extent> out = new ArrayList<>();
        long done = 0;
        while (done < length) {
            List<Extent> part = normalize(source.extents(offset + done, length - done), length - done, false);
            for (Extent e : part) {
                append(out, e);
                done += e.length();
            }
        }
        return out;
    }

    /** Merges neighbours with equal flags, clamps to {@code length}, keeps one extent when asked. */
    static List<Extent> normalize(List<Extent> raw, long length, boolean one) throws NbdIoException {
        List<Extent> out = new ArrayList<>();
        long total = 0;
        for (Extent e : raw) {
            if (total >= length) {
                break;
            }
            Extent clamped = e.length() > length - total ? e.withLength(length - total) : e;
            append(out, clamped);
            total += clamped.length();
        }
        if (out.isEmpty()) {
            throw new NbdIoException(IoErrorKind.IO, "backend reported no extents");
        }
        if (one) {
            return List.of(out.getFirst());
        }
        return out.size() > MAX_EXTENTS ? List.copyOf(out.subList(0, MAX_EXTENTS)) : out;
    }

    private static void append(List<Extent> out, Extent e) {
        if (!out.isEmpty()) {
            Extent last = out.getLast();
            if (last.flags() == e.flags() && last.length() + e.length() <= Extent.MAX_LENGTH) {
                out.set(out.size() - 1, last.withLength(last.length() + e.length()));
                return;
            }
        }
        out.add(e);
    }

    private void closeQuietly() {
        broken = true;
        try {
            transport.close();
        } catch (IOException ignored) {
            // already broken; the reader notices and ends the connection
        }
    }
}
