package dev.converge.nbd.client;

import dev.converge.nbd.wire.Extent;
import dev.converge.nbd.wire.IoErrorKind;
import dev.converge.nbd.wire.NbdIoException;
import dev.converge.nbd.wire.NbdProtocol.Command;
import dev.converge.nbd.wire.NbdProtocol.CommandFlag;
import dev.converge.nbd.wire.NbdProtocol.TransmissionFlag;
import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.nbd.wire.NbdProtocolException;
import dev.converge.nbd.wire.Reply;
import dev.converge.nbd.wire.ReplyDecoder;
import dev.converge.nbd.wire.Request;
import dev.converge.nbd.wire.SimpleReply;
import dev.converge.nbd.wire.StructuredChunk;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An NBD client connection (QEMU's block/nbd.c): fixed-newstyle handshake with structured replies and
 * base:allocation, then pipelined requests, at most {@link NbdClientConfig#maxInFlight()} in flight,
 * whose replies a reader thread matches by cookie.
 *
 * <h2>Reconnect</h2>
 * When the connection breaks, every request in flight and every later one waits for a reconnect, for
 * at most {@link NbdClientConfig#reconnectDelay()} from the moment the connection was lost (QEMU's
 * reconnect-delay), and is then sent again on the new connection; requests that find no connection
 * after the delay fail with EIO. A background thread keeps trying to reconnect until {@link #close()}.
 * The export's size must not change across reconnects.
 *
 * <h2>Threads</h2>
 * Any number of threads may call the I/O methods; each blocks until its reply. One platform reader
 * thread per connection; one reconnect thread while disconnected.
 */
public final class NbdClient implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NbdClient.class);
    /** Largest READ or WRITE sent: larger requests are split, and the reader buffer holds one whole reply. */
    public static final int MAX_REQUEST = 4 << 20;
    private static final long FIRST_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final NbdClientConfig config;
    private final long size;
    private final AtomicLong cookies = new AtomicLong();
    private final Semaphore inFlight;
    /** Guards {@link #session}, {@link #lostAt}, {@link #closed} and the reconnect thread's start. */
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when {@link #session} or {@link #closed} changes. */
    private final Condition changed = lock.newCondition();
    /** The connection in use, or null while reconnecting; guarded by {@link #lock}. */
    private Session session;
    /** System.nanoTime() when the connection was lost; guarded by {@link #lock}. */
    private long lostAt;
    /** Set once by {@link #close()}; guarded by {@link #lock}. */
    private boolean closed;

    /** Connects and negotiates; fails with the server's reason (unknown export, TLS required...). */
    public NbdClient(NbdClientConfig config) throws IOException {
        this.config = config;
        this.inFlight = new Semaphore(config.maxInFlight());
        ClientHandshake.Negotiated n = ClientHandshake.connect(config);
        this.size = n.size();
        this.session = new Session(n);
        this.lastSession = session;
        session.start();
    }

    /** The export's size in bytes. */
    public long size() {
        return size;
    }

    /** Whether the export refuses writes. */
    public boolean readOnly() {
        return current().n.has(TransmissionFlag.READ_ONLY);
    }

    /** Whether the server answers BLOCK_STATUS for base:allocation. */
    public boolean hasBlockStatus() {
        Session s = current();
        return s.n.structured() && s.n.allocationContext() >= 0;
    }

    /** Whether write-zeroes with FAST_ZERO is supported (else fastZero requests fail with ENOTSUP at once). */
    public boolean canFastZero() {
        return current().n.has(TransmissionFlag.SEND_FAST_ZERO);
    }

    /** The server's minimum block size (requests should be aligned to it). */
    public int minBlockSize() {
        return current().n.minBlock();
    }

    private Session current() {
        lock.lock();
        try {
            return session != null ? session : lastSession;
        } finally {
            lock.unlock();
        }
    }

    /** The latest session, also while reconnecting or closed (for its flags); guarded by {@link #lock}. */
    private Session lastSession;

    /** Largest READ/WRITE to send: ours, or the server's maximum block size when smaller. */
    private int maxRequest() {
        return Math.min(MAX_REQUEST, current().n.maxBlock());
    }

    // ---------------------------------------------------------------- I/O

    /** Reads {@code dst}'s remaining bytes at {@code offset}; the position does not move. */
    public void read(long offset, ByteBuffer dst) throws IOException {
        checkRange(offset, dst.remaining());
        int max = maxRequest();
        for (int done = 0; done < dst.remaining(); ) {
            int len = Math.min(max, dst.remaining() - done);
            ByteBuffer part = dst.slice(dst.position() + done, len);
            long at = offset + done;
            execute(s -> new Pending(Request.read(cookies.incrementAndGet(), at, len), part, at));
            done += len;
        }
    }

    /** Writes {@code src}'s remaining bytes at {@code offset}; durable before returning when {@code fua}. */
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        checkRange(offset, src.remaining());
        int max = maxRequest();
        for (int done = 0; done < src.remaining(); ) {
            int len = Math.min(max, src.remaining() - done);
            ByteBuffer part = src.slice(src.position() + done, len);
            long at = offset + done;
            execute(s -> new Pending(Request.write(cookies.incrementAndGet(), at, part.duplicate(),
                    fua && s.n.has(TransmissionFlag.SEND_FUA) ? EnumSet.of(CommandFlag.FUA)
                            : EnumSet.noneOf(CommandFlag.class)), null, at));
            done += len;
        }
    }

    /**
     * Makes the range read as zeroes. {@code mayTrim}: it may become a hole (else NO_HOLE is sent);
     * {@code fastZero}: fail with {@link IoErrorKind#NOT_SUPPORTED} rather than write slowly (FAST_ZERO).
     */
    public void writeZeroes(long offset, long length, boolean mayTrim, boolean fastZero) throws IOException {
        checkRange(offset, length);
        if (fastZero && !canFastZero()) {
            throw new NbdIoException(IoErrorKind.NOT_SUPPORTED, "the server does not support fast zeroing");
        }
        for (long done = 0; done < length; ) {
            long len = Math.min(0xffff_f000L, length - done); // 32-bit lengths, kept 4 KiB aligned
            long at = offset + done;
            Set<CommandFlag> flags = EnumSet.noneOf(CommandFlag.class);
            if (!mayTrim) {
                flags.add(CommandFlag.NO_HOLE);
            }
            if (fastZero) {
                flags.add(CommandFlag.FAST_ZERO);
            }
            execute(s -> new Pending(Request.of(Command.WRITE_ZEROES, flags, cookies.incrementAndGet(), at, len),
                    null, at));
            done += len;
        }
    }

    /** Discards the range (TRIM); does nothing when the server does not offer it. */
    public void trim(long offset, long length) throws IOException {
        checkRange(offset, length);
        if (!current().n.has(TransmissionFlag.SEND_TRIM)) {
            return;
        }
        for (long done = 0; done < length; ) {
            long len = Math.min(0xffff_f000L, length - done);
            long at = offset + done;
            execute(s -> new Pending(Request.of(Command.TRIM, Set.of(), cookies.incrementAndGet(), at, len), null, at));
            done += len;
        }
    }

    /** Makes completed writes durable (FLUSH); does nothing when the server does not offer it. */
    public void flush() throws IOException {
        if (!current().n.has(TransmissionFlag.SEND_FLUSH)) {
            return;
        }
        execute(s -> new Pending(Request.of(Command.FLUSH, Set.of(), cookies.incrementAndGet(), 0, 0), null, 0));
    }

    /**
     * base:allocation of the range: extents from {@code offset}, contiguous, covering at least one byte
     * and at most {@code length}. Without block status on the server: all data.
     */
    public List<Extent> blockStatus(long offset, long length) throws IOException {
        checkRange(offset, length);
        long len = Math.min(length, 0xffff_f000L);
        if (!hasBlockStatus()) {
            return List.of(Extent.data(len));
        }
        Pending p = execute(s -> new Pending(Request.of(Command.BLOCK_STATUS, Set.of(), cookies.incrementAndGet(),
                offset, len), null, offset));
        List<Extent> out = new ArrayList<>();
        long covered = 0;
        for (Extent e : p.extents) {
            if (covered >= len) {
                break;
            }
            Extent clipped = e.length() > len - covered ? e.withLength(len - covered) : e;
            out.add(clipped);
            covered += clipped.length();
        }
        if (out.isEmpty()) {
            throw new NbdIoException(IoErrorKind.IO, "server sent no extent for block status at " + offset);
        }
        return out;
    }

    private void checkRange(long offset, long length) throws NbdIoException {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new NbdIoException(IoErrorKind.INVALID, "request of " + length + " bytes at " + offset
                    + " is outside the export (size " + size + ")");
        }
    }

    @FunctionalInterface
    private interface RequestFactory {
        Pending make(Session s);
    }

    /** Sends a request and waits for its reply, again on a new connection if the connection broke. */
    private Pending execute(RequestFactory factory) throws IOException {
        try {
            inFlight.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NbdIoException(IoErrorKind.IO, "interrupted waiting to send an NBD request", e);
        }
        try {
            while (true) {
                Session s = awaitSession();
                Pending p = factory.make(s);
                if (s.send(p)) {
                    Pending.Outcome o = p.await();
                    switch (o) {
                        case DONE -> {
                            return p;
                        }
                        case FAILED -> throw p.error;
                        case CONNECTION_LOST -> {
                            // retried on the next connection (QEMU retries in-flight requests after reconnect)
                        }
                    }
                }
            }
        } finally {
            inFlight.release();
        }
    }

    /** The live session, waiting for a reconnect for at most the reconnect delay since the loss. */
    private Session awaitSession() throws IOException {
        lock.lock();
        try {
            while (true) {
                if (closed) {
                    throw new NbdIoException(IoErrorKind.SHUTDOWN, "NBD client to " + config.address() + " is closed");
                }
                if (session != null) {
                    return session;
                }
                long left = lostAt + config.reconnectDelay().toNanos() - System.nanoTime();
                if (left <= 0) {
                    throw new NbdIoException(IoErrorKind.IO, "NBD connection to " + config.address()
                            + " lost and not re-established within reconnect-delay " + config.reconnectDelay());
                }
                changed.awaitNanos(left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NbdIoException(IoErrorKind.IO, "interrupted waiting for an NBD reconnect", e);
        } finally {
            lock.unlock();
        }
    }

    /** Called by a session's reader when its connection broke. */
    private void lost(Session s, Throwable why) {
        lock.lock();
        try {
            if (session != s) {
                return;
            }
            lastSession = s;
            session = null;
            lostAt = System.nanoTime();
            changed.signalAll();
            if (closed) {
                return;
            }
            LOG.warn("NBD connection to {} export '{}' lost ({}); reconnecting", config.address(), config.export(),
                    why.toString());
            Thread.ofVirtual().name("nbd-reconnect " + config.address()).start(this::reconnectLoop);
        } finally {
            lock.unlock();
        }
    }

    private void reconnectLoop() {
        long backoff = FIRST_BACKOFF_NANOS;
        while (true) {
            lock.lock();
            try {
                if (closed) {
                    return;
                }
            } finally {
                lock.unlock();
            }
            try {
                ClientHandshake.Negotiated n = ClientHandshake.connect(config);
                if (n.size() != size) {
                    n.channel().close();
                    throw new IOException("export size changed from " + size + " to " + n.size());
                }
                Session s = new Session(n);
                lock.lock();
                try {
                    if (closed) {
                        s.close();
                        return;
                    }
                    session = s;
                    lastSession = s;
                    s.start();
                    changed.signalAll();
                } finally {
                    lock.unlock();
                }
                LOG.info("NBD connection to {} export '{}' re-established", config.address(), config.export());
                return;
            } catch (IOException | RuntimeException e) {
                LOG.debug("NBD reconnect to {} failed: {}", config.address(), e.toString());
            }
            lock.lock();
            try {
                if (!closed) {
                    changed.awaitNanos(backoff); // woken early by close()
                }
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
            backoff = Math.min(MAX_BACKOFF_NANOS, backoff * 2);
        }
    }

    /** Sends DISC and closes the connection; requests still waiting fail with ESHUTDOWN. Idempotent. */
    @Override
    public void close() {
        Session s;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            s = session;
            session = null;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        if (s != null) {
            s.disconnect();
        }
    }

    // ---------------------------------------------------------------- one request

    /** A request sent and its reply state; completed by the reader thread. */
    private static final class Pending {
        enum Outcome { DONE, FAILED, CONNECTION_LOST }

        final Request request;
        /** Where READ data goes (a slice covering the request), or null. */
        final ByteBuffer dst;
        final long offset;
        /** What a structured read reply covered so far; null unless this is a read. Reader thread. */
        final ReadCoverage coverage;
        /** base:allocation extents received; written by the reader before completion. */
        final List<Extent> extents = new ArrayList<>();
        /** The first error chunk's failure; written by the reader before completion. */
        NbdIoException error;
        private final java.util.concurrent.CompletableFuture<Outcome> outcome =
                new java.util.concurrent.CompletableFuture<>();

        Pending(Request request, ByteBuffer dst, long offset) {
            this.request = request;
            this.dst = dst;
            this.offset = offset;
            this.coverage = dst == null ? null : new ReadCoverage(offset, request.length());
        }

        void complete(Outcome o) {
            outcome.complete(o);
        }

        Outcome await() throws NbdIoException {
            try {
                return outcome.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new NbdIoException(IoErrorKind.IO, "interrupted waiting for an NBD reply", e);
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException("pending request failed exceptionally", e);
            }
        }
    }

    // ---------------------------------------------------------------- one connection

    /** One negotiated connection: its sender side (serialised writes) and its reader thread. */
    private final class Session {
        final ClientHandshake.Negotiated n;
        /** Requests sent and not answered, by cookie; removed by the reader or on loss. */
        final Map<Long, Pending> pending = new ConcurrentHashMap<>();
        /** Serialises request writes (header and payload together). */
        final ReentrantLock sendLock = new ReentrantLock();
        /** Set once when the connection broke or was closed; guarded by {@link #sendLock}. */
        boolean dead;
        /** Direct: the socket reads into it without the JDK's bounce buffer. Reader thread only. */
        final ByteBuffer in = ByteBuffer.allocateDirect(MAX_REQUEST + (64 << 10));
        final ReplyDecoder decoder;
        private Thread reader;

        Session(ClientHandshake.Negotiated n) {
            this.n = n;
            this.decoder = ReplyDecoder.viewing(c -> {
                Pending p = pending.get(c);
                return p != null && p.dst != null ? p.request.length() : 0;
            });
            in.put(n.in().flip()); // bytes read past the handshake
        }

        void start() {
            // a platform thread: replies are read even while the callers' virtual threads pin every
            // carrier in storage I/O (FFM downcalls), and its reads block in the kernel, not the poller
            reader = Thread.ofPlatform().daemon(true).name("nbd-client-reader " + config.address())
                    .start(this::readLoop);
        }

        /** Sends a request; false when the connection is already dead (the caller retries on the next). */
        boolean send(Pending p) {
            sendLock.lock();
            try {
                if (dead) {
                    return false;
                }
                pending.put(p.request.cookie(), p);
                try {
                    // a gathering write: the payload goes from the caller's (direct) buffer, not copied
                    ByteBuffer header = p.request.encodeHeader();
                    ByteBuffer payload = p.request.payload();
                    n.transport().write(payload == null ? new ByteBuffer[] {header}
                            : new ByteBuffer[] {header, payload.duplicate()});
                } catch (IOException e) {
                    pending.remove(p.request.cookie());
                    dead = true;
                    closeChannel();
                    return false;
                }
                return true;
            } finally {
                sendLock.unlock();
            }
        }

        private void readLoop() {
            Throwable why;
            try {
                while (true) {
                    in.flip();
                    Reply r;
                    try {
                        r = decoder.decode(in);
                        if (r != null) {
                            handle(r); // the reply's payload is a view of `in`: used up before the compact
                        }
                    } finally {
                        in.compact();
                    }
                    if (r == null) {
                        if (!in.hasRemaining()) {
                            throw new IOException("NBD reply larger than the read buffer (" + in.capacity()
                                    + " bytes)");
                        }
                        if (n.transport().read(in) < 0) {
                            throw new java.io.EOFException("server closed the connection");
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                why = e;
            }
            sendLock.lock();
            try {
                dead = true;
            } finally {
                sendLock.unlock();
            }
            closeChannel();
            for (Long c : List.copyOf(pending.keySet())) {
                Pending p = pending.remove(c);
                if (p != null) {
                    p.complete(Pending.Outcome.CONNECTION_LOST);
                }
            }
            lost(this, why);
        }

        private void handle(Reply r) throws NbdProtocolException {
            switch (r) {
                case SimpleReply s -> {
                    Pending p = take(s.cookie());
                    if (s.error() != 0) {
                        p.error = new NbdIoException(IoErrorKind.fromWire(s.error()),
                                describe(p) + " failed on the server (errno " + s.error() + ")");
                        p.complete(Pending.Outcome.FAILED);
                    } else {
                        if (p.dst != null && s.data() != null) {
                            p.dst.put(0, s.data(), 0, s.data().remaining());
                        }
                        p.complete(Pending.Outcome.DONE);
                    }
                }
                case StructuredChunk c -> {
                    Pending p = c.done() ? take(c.cookie()) : pending.get(c.cookie());
                    if (p == null) {
                        throw new NbdProtocolException.Malformed("reply for unknown cookie " + c.cookie());
                    }
                    chunk(p, c);
                    if (c.done()) {
                        if (p.error == null && p.coverage != null && !p.coverage.complete()) {
                            // A successful read must fill every byte; the rest of dst is not data.
                            p.error = new NbdIoException(IoErrorKind.IO, describe(p) + ": the server's reply covered only "
                                    + p.coverage.covered() + " of " + p.request.length() + " bytes");
                        }
                        p.complete(p.error != null ? Pending.Outcome.FAILED : Pending.Outcome.DONE);
                    }
                }
            }
        }

        private void chunk(Pending p, StructuredChunk c) throws NbdProtocolException {
            switch (c.type()) {
                case OFFSET_DATA -> {
                    ByteBuffer data = c.data();
                    int at = checkedOffset(p, c.offset(), data.remaining());
                    p.coverage.add(c.offset(), data.remaining());
                    p.dst.put(at, data, data.position(), data.remaining());
                }
                case OFFSET_HOLE -> {
                    long len = c.holeLength();
                    int at = checkedOffset(p, c.offset(), len);
                    p.coverage.add(c.offset(), len);
                    java.lang.foreign.MemorySegment.ofBuffer(p.dst).asSlice(at, len).fill((byte) 0);
                }
                case BLOCK_STATUS -> {
                    if (c.contextId() == n.allocationContext()) {
                        p.extents.addAll(c.extents());
                    }
                }
                case ERROR, ERROR_OFFSET -> {
                    if (p.error == null) {
                        p.error = new NbdIoException(IoErrorKind.fromWire(c.errno()),
                                describe(p) + " failed on the server: " + c.errorMessage());
                    }
                }
                case NONE -> {
                }
                default -> throw new NbdProtocolException.Malformed("unexpected reply chunk " + c.type() + " for "
                        + describe(p));
            }
        }

        private int checkedOffset(Pending p, long chunkOffset, long len) throws NbdProtocolException {
            if (p.dst == null || chunkOffset < p.offset || chunkOffset + len > p.offset + p.request.length()) {
                throw new NbdProtocolException.Malformed("data chunk at " + chunkOffset + " of " + len + " bytes outside "
                        + describe(p));
            }
            return (int) (chunkOffset - p.offset);
        }

        private Pending take(long cookie) throws NbdProtocolException {
            Pending p = pending.remove(cookie);
            if (p == null) {
                throw new NbdProtocolException.Malformed("reply for unknown cookie " + cookie);
            }
            return p;
        }

        private String describe(Pending p) {
            return p.request.toString();
        }

        /** Sends DISC and closes; the reader then ends and fails what is pending. */
        void disconnect() {
            sendLock.lock();
            try {
                if (!dead) {
                    try {
                        n.transport().write(Request.disconnect(cookies.incrementAndGet()).encode());
                    } catch (IOException e) {
                        LOG.debug("DISC to {}: {}", config.address(), e.toString());
                    }
                    dead = true;
                }
            } finally {
                sendLock.unlock();
            }
            close();
        }

        void close() {
            try {
                n.transport().close();
            } catch (IOException e) {
                LOG.debug("close {}: {}", config.address(), e.toString());
            }
            closeChannel();
            Thread r = reader;
            if (r != null && r != Thread.currentThread()) {
                try {
                    r.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        private void closeChannel() {
            try {
                n.channel().close();
            } catch (IOException e) {
                LOG.debug("close {}: {}", config.address(), e.toString());
            }
        }
    }

}
