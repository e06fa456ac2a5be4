package dev.converge.migration.multifd;

import dev.converge.migration.machine.PageCrcTable;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.wire.ChecksumMismatchException;
import dev.converge.migration.wire.MultifdDecoder;
import dev.converge.migration.wire.MultifdRecord;
import dev.converge.migration.wire.StreamRecord;
import dev.converge.migration.wire.WireFormat;
import dev.converge.migration.wire.WireFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The destination's multifd channels. Started when the main stream's MULTIFD_SETUP arrives: an
 * accept thread takes the declared number of connections through the {@link ChannelAcceptor}
 * (then stops listening), and one platform thread per channel checks its hello (this session,
 * this channel count, a channel id not seen before), then applies its PAGES into RAM.
 * <p>
 * Sync points: a channel that reads SYNC {@code n} waits there until the main stream's
 * END_OF_PASS {@code n} was read and every channel reached SYNC {@code n}
 * ({@link #release}): nothing of pass n+1 is applied before all of pass n, so a page's newest
 * copy wins. The verified stream's per-page CRCs ({@link PageCrcTable}) are recorded by the
 * channel that decodes the page: two channels touch the same page only in different passes,
 * ordered by the sync point, and the main stream reads the table only after the last one.
 * <p>
 * Bad input (garbage, a wrong session or count, a channel id twice, a record that breaks the
 * format, corrupt compressed data) fails this migration with a message naming the channel;
 * the first failure closes every channel and calls the {@code onFailure} hook, which wakes the
 * main stream's reader. {@link #close} ends the accept and channel threads and closes every
 * connection, however the migration ended.
 */
public final class MultifdReceiver implements AutoCloseable {
    private static final long POLL_MS = 50;

    private final StreamRecord.MultifdSetup setup;
    private final int version;
    private final boolean verified;
    private final List<StreamRecord.BlockInfo> layout;
    private final List<RamBlock> blocks;
    private final ChannelAcceptor acceptor;
    private final PageCrcTable crcs;
    private final Runnable onFailure;
    private final String threadPrefix;
    private final ChannelCounters counters = new ChannelCounters();
    private final AtomicReference<IOException> failure = new AtomicReference<>();

    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled on every arrival, release, end and failure. */
    private final Condition changed = lock.newCondition();
    /** Per channel id: the last SYNC it reached (all before it applied); guarded by lock. */
    private final long[] arrived;
    /** Per channel id: whether its hello came; guarded by lock. */
    private final boolean[] claimed;
    /** Per channel id: whether its connection ended cleanly; guarded by lock. */
    private final boolean[] ended;
    /** The last pass the main stream released; guarded by lock. */
    private long released;
    /** Whether close() began; guarded by lock. */
    private boolean closing;
    /** Accepted connections and the threads; guarded by lock. */
    private final List<ByteChannel> connections = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();

    private MultifdReceiver(StreamRecord.MultifdSetup setup, int version, boolean verified,
            List<StreamRecord.BlockInfo> layout, List<RamBlock> blocks, ChannelAcceptor acceptor,
            PageCrcTable crcs, Runnable onFailure, String threadPrefix) {
        this.setup = setup;
        this.version = version;
        this.verified = verified;
        this.layout = List.copyOf(layout);
        this.blocks = List.copyOf(blocks);
        this.acceptor = acceptor;
        this.crcs = crcs;
        this.onFailure = onFailure;
        this.threadPrefix = threadPrefix;
        arrived = new long[setup.channels()];
        claimed = new boolean[setup.channels()];
        ended = new boolean[setup.channels()];
    }

    /**
     * Starts accepting the channels {@code setup} declares.
     *
     * @param crcs      the verified stream's page CRCs, or null
     * @param onFailure called once, on the failing channel's thread, when a channel fails (wakes the main reader)
     */
    public static MultifdReceiver start(StreamRecord.MultifdSetup setup, int version, boolean verified,
            List<StreamRecord.BlockInfo> layout, List<RamBlock> blocks, ChannelAcceptor acceptor,
            PageCrcTable crcs, Runnable onFailure, String threadPrefix) {
        MultifdReceiver r = new MultifdReceiver(setup, version, verified, layout, blocks, acceptor, crcs, onFailure,
                threadPrefix);
        Thread t = Thread.ofPlatform().daemon().name(threadPrefix + "-multifd-accept").unstarted(r::acceptAll);
        r.threads.add(t);
        t.start();
        return r;
    }

    /** The first channel failure, or null. */
    public IOException failure() {
        return failure.get();
    }

    /** What the channels applied: bytes read, pages with data, zero pages. */
    public ChannelCounters counters() {
        return counters;
    }

    /**
     * The main stream read END_OF_PASS {@code pass}: waits until every channel reached SYNC
     * {@code pass} (having applied everything before it), then lets them go on.
     *
     * @throws IOException a channel's failure, or a channel that ended before reaching it
     */
    public void release(long pass) throws IOException, InterruptedException {
        lock.lock();
        try {
            while (true) {
                checkFailure();
                if (closing) {
                    throw new IOException("multifd channels closed");
                }
                boolean all = true;
                for (int i = 0; i < arrived.length; i++) {
                    if (arrived[i] < pass) {
                        if (ended[i]) {
                            throw new IOException("multifd channel " + i + " ended before its sync point of pass " + pass);
                        }
                        all = false;
                    }
                }
                if (all) {
                    released = pass;
                    changed.signalAll();
                    return;
                }
                changed.await(POLL_MS, TimeUnit.MILLISECONDS);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Stops accepting, closes every channel and waits for the threads (idempotent). */
    @Override
    public void close() {
        List<ByteChannel> open;
        List<Thread> running;
        lock.lock();
        try {
            closing = true;
            changed.signalAll();
            open = List.copyOf(connections);
            running = List.copyOf(threads);
        } finally {
            lock.unlock();
        }
        acceptor.close();
        open.forEach(MultifdReceiver::closeQuietly);
        boolean interrupted = false;
        for (Thread t : running) {
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void acceptAll() {
        try {
            for (int i = 0; i < setup.channels(); i++) {
                ByteChannel ch = acceptor.accept();
                lock.lock();
                try {
                    if (closing) {
                        closeQuietly(ch);
                        return;
                    }
                    connections.add(ch);
                    int n = i;
                    Thread t = Thread.ofPlatform().daemon().name(threadPrefix + "-multifd-recv-" + i)
                            .unstarted(() -> receive(n, ch));
                    threads.add(t);
                    t.start();
                } finally {
                    lock.unlock();
                }
            }
        } catch (IOException e) {
            if (!isClosing()) {
                fail(new IOException("accepting multifd channels failed: " + e.getMessage(), e));
            }
        } finally {
            acceptor.close(); // every channel is in (or it failed): stop listening
        }
    }

    /** The {@code n}th accepted connection's reader: hello, then PAGES and SYNC until the source closes it. */
    private void receive(int n, ByteChannel ch) {
        String name = "multifd channel (connection " + n + ")";
        ByteBuffer buf = ByteBuffer.allocateDirect(WireFormat.MAX_MULTIFD_RECORD);
        buf.flip();
        MultifdDecoder decoder = new MultifdDecoder(layout, setup.compression());
        int id = -1;
        try (PageCodec codec = PageCodec.of(setup.compression(), 1, 1)) {
            ByteBuffer pages = setup.compression() == dev.converge.migration.wire.MultifdCompression.NONE ? null
                    : ByteBuffer.allocateDirect(WireFormat.MULTIFD_MAX_PAGES * WireFormat.PAGE_SIZE);
            while (true) {
                MultifdRecord r;
                while ((r = decoder.decode(buf)) != null) {
                    switch (r) {
                        case MultifdRecord.Hello h -> {
                            id = claim(h);
                            name = "multifd channel " + id;
                        }
                        case MultifdRecord.Pages p -> apply(p, codec, pages);
                        case MultifdRecord.Sync s -> arrive(id, s.pass());
                    }
                }
                buf.compact();
                int read = ch.read(buf);
                buf.flip();
                if (read < 0) {
                    if (id >= 0 && !buf.hasRemaining()) {
                        end(id);
                        // Closed at once: a TLS source waits for it to close its side without a reset.
                        closeQuietly(ch);
                        return;
                    }
                    throw new IOException("truncated: the connection ended " + (id < 0 ? "before its hello"
                            : "inside a record (" + buf.remaining() + " bytes)"));
                }
                counters.bytes.add(read);
            }
        } catch (WireFormatException e) {
            fail(new IOException(name + " is " + (e instanceof ChecksumMismatchException ? "corrupt: " : "malformed: ")
                    + e.getMessage(), e));
        } catch (IOException e) {
            if (!isClosing()) {
                fail(new IOException(name + " failed: " + e.getMessage(), e));
            }
        } catch (InterruptedException e) {
            // closing
        }
    }

    private int claim(MultifdRecord.Hello h) throws WireFormatException {
        if (h.session() != setup.session()) {
            throw new WireFormatException(String.format("session 0x%016x (expected: 0x%016x, this migration's)",
                    h.session(), setup.session()));
        }
        if (h.channels() != setup.channels()) {
            throw new WireFormatException("channel count " + h.channels() + " (expected: " + setup.channels()
                    + ", as the main stream declared)");
        }
        if (h.version() != version || h.verified() != verified) {
            throw new WireFormatException("version " + h.version() + (h.verified() ? " verified" : "") + " (expected: "
                    + version + (verified ? " verified" : "") + ", as the main stream)");
        }
        lock.lock();
        try {
            if (claimed[h.channel()]) {
                throw new WireFormatException("channel id " + h.channel() + " twice (expected: each of 0.."
                        + (setup.channels() - 1) + " once)");
            }
            claimed[h.channel()] = true;
            return h.channel();
        } finally {
            lock.unlock();
        }
    }

    private void apply(MultifdRecord.Pages p, PageCodec codec, ByteBuffer pages) throws WireFormatException {
        RamBlock block = blocks.get(p.block());
        ByteBuffer data = p.data();
        if (codec != null) {
            pages.clear().limit(p.normal().length * WireFormat.PAGE_SIZE);
            codec.decompress(data.duplicate(), pages);
            data = pages.flip();
        }
        for (int i = 0; i < p.normal().length; i++) {
            ByteBuffer page = data.slice(data.position() + i * WireFormat.PAGE_SIZE, WireFormat.PAGE_SIZE);
            if (crcs != null) {
                crcs.record(p.block(), p.normal()[i] >>> RamBlock.PAGE_SHIFT, page); // where it is decoded
            }
            block.loadPage(p.normal()[i], page);
        }
        for (long z : p.zero()) {
            block.loadZeroPage(z);
            if (crcs != null) {
                crcs.recordZero(p.block(), z >>> RamBlock.PAGE_SHIFT);
            }
        }
        counters.normalPages.add(p.normal().length);
        counters.zeroPages.add(p.zero().length);
    }

    /** Channel {@code id} reached SYNC {@code pass}: wait until the main stream releases it. */
    private void arrive(int id, long pass) throws IOException, InterruptedException {
        lock.lock();
        try {
            arrived[id] = pass;
            changed.signalAll();
            while (released < pass) {
                checkFailure();
                if (closing) {
                    throw new IOException("multifd channels closed");
                }
                changed.await(POLL_MS, TimeUnit.MILLISECONDS);
            }
        } finally {
            lock.unlock();
        }
    }

    private void end(int id) {
        lock.lock();
        try {
            ended[id] = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private boolean isClosing() {
        lock.lock();
        try {
            return closing;
        } finally {
            lock.unlock();
        }
    }

    private void checkFailure() throws IOException {
        IOException e = failure.get();
        if (e != null) {
            throw e;
        }
    }

    private void fail(IOException e) {
        if (!failure.compareAndSet(null, e)) {
            return;
        }
        List<ByteChannel> open;
        lock.lock();
        try {
            changed.signalAll();
            open = List.copyOf(connections);
        } finally {
            lock.unlock();
        }
        acceptor.close();
        open.forEach(MultifdReceiver::closeQuietly);
        onFailure.run();
    }

    private static void closeQuietly(ByteChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // only releasing
        }
    }
}
