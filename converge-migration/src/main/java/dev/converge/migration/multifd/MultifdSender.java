package dev.converge.migration.multifd;

import dev.converge.migration.machine.PageCrcTable;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.wire.MultifdCompression;
import dev.converge.migration.wire.MultifdEncoder;
import dev.converge.migration.wire.MultifdRecord;
import dev.converge.migration.wire.WireFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32C;

/**
 * The source's multifd channels: the migration thread {@link #add}s pages, which are gathered
 * into batches of up to {@link WireFormat#MULTIFD_MAX_PAGES} pages of one block and handed to
 * the channels round-robin; each channel's own thread finds the zero pages (with
 * {@code zero-page-detection=multifd}), compresses, checksums (verified stream) and writes its
 * batches as PAGES records.
 * <p>
 * Ordering: within a pass every page is sent once, so the channels may race. Between passes
 * {@link #sync} puts a SYNC on every channel and waits until each has written it; the main
 * stream's END_OF_PASS follows, and the destination applies nothing after a SYNC until every
 * channel reached it, so a page's newest copy wins (QEMU's multifd sync points).
 * <p>
 * Set up and torn down as one: {@link #open} connects every channel or none (those opened are
 * closed again), the first channel error is kept ({@link #failure}), closes every channel and
 * fails the migration, and {@link #close} ends the threads and closes the sockets however the
 * migration ended.
 * <p>
 * Threads: {@link #add}, {@link #flush}, {@link #sync}, {@link #finish} on the migration thread
 * (its batch and round-robin state are confined to it); one platform thread per channel; the
 * counters and the failure are thread-safe.
 */
public final class MultifdSender implements AutoCloseable {
    /** How long a blocked hand-over waits before it looks at the failure again. */
    private static final long POLL_MS = 20;
    /** How long a TLS channel's orderly end waits for the destination to close its side (it does at once). */
    private static final java.time.Duration END_WAIT = java.time.Duration.ofSeconds(10);

    private final List<Channel> channels = new ArrayList<>();
    /** Free batches; channels return them after writing. */
    private final BlockingQueue<Batch> pool;
    private final AtomicReference<IOException> failure = new AtomicReference<>();
    private final ChannelCounters counters = new ChannelCounters();
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when a channel wrote a SYNC, ended or failed. */
    private final Condition progress = lock.newCondition();
    /** A verified stream's table of what was sent (the channels record their pages); null otherwise. */
    private final PageCrcTable sentCrcs;

    // Confined to the migration thread.
    private Batch current;
    private int next;

    private MultifdSender(int channels, PageCrcTable sentCrcs) {
        this.sentCrcs = sentCrcs;
        pool = new ArrayBlockingQueue<>(2 * channels + 1);
        for (int i = 0; i < 2 * channels + 1; i++) {
            pool.add(new Batch());
        }
    }

    /**
     * Opens every channel (each sends its hello) and starts their threads.
     *
     * @param flags     the main stream's header flags (verified)
     * @param session   the session id MULTIFD_SETUP declared
     * @param detectZeroPages whether the channels find zero pages ({@code zero-page-detection=multifd})
     * @param sentCrcs  a verified stream's table of sent pages, which the channels fill where they
     *                  encode each page (distinct pages per pass; read it after {@link #finish}); else null
     * @throws IOException naming the channel that could not be opened; none stays open
     */
    public static MultifdSender open(MultifdConfig config, int version, int flags, long session, boolean detectZeroPages,
            PageCrcTable sentCrcs, ChannelOpener opener, String threadPrefix) throws IOException {
        MultifdSender s = new MultifdSender(config.channels(), sentCrcs);
        try {
            for (int i = 0; i < config.channels(); i++) {
                GatheringByteChannel ch;
                try {
                    ch = opener.open(i);
                } catch (IOException e) {
                    throw new IOException("multifd channel " + i + ": " + e.getMessage(), e);
                }
                Channel c = s.new Channel(i, ch, config, (flags & WireFormat.FLAG_VERIFIED) != 0, detectZeroPages);
                s.channels.add(c);
                c.writeHello(new MultifdRecord.Hello(version, flags, i, config.channels(), session));
            }
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        for (Channel c : s.channels) {
            c.thread = Thread.ofPlatform().daemon().name(threadPrefix + "-multifd-send-" + c.index).start(c::run);
        }
        return s;
    }

    /** The first channel error, or null. */
    public IOException failure() {
        return failure.get();
    }

    /** What the channels sent: bytes (query-migrate's multifd-bytes), pages with data, zero pages. */
    public ChannelCounters counters() {
        return counters;
    }

    /**
     * Queues page {@code page} of {@code block} (index {@code blockIndex}) for the channels.
     *
     * @return the page bytes handed to a channel by this call (0 while the batch fills), for the rate limit
     * @throws IOException a channel's failure
     */
    public long add(int blockIndex, RamBlock block, long page) throws IOException, InterruptedException {
        long handed = 0;
        if (current != null && current.blockIndex != blockIndex) {
            handed = flush();
        }
        if (current == null) {
            current = take();
            current.blockIndex = blockIndex;
            current.block = block;
        }
        current.pages[current.count++] = page;
        if (current.count == WireFormat.MULTIFD_MAX_PAGES) {
            handed += flush();
        }
        return handed;
    }

    /**
     * Hands the partly filled batch to a channel.
     *
     * @return its page bytes, 0 when there was none
     */
    public long flush() throws IOException, InterruptedException {
        Batch b = current;
        if (b == null || b.count == 0) {
            return 0;
        }
        current = null;
        long n = (long) b.count * WireFormat.PAGE_SIZE;
        // Round-robin, but past a channel whose queue is full: the first with room takes it.
        for (int i = 0; i < channels.size(); i++) {
            Channel c = channels.get((next + i) % channels.size());
            if (c.queue.offer(b)) {
                next = (c.index + 1) % channels.size();
                return n;
            }
        }
        Channel c = channels.get(next);
        next = (next + 1) % channels.size();
        offer(c, b);
        return n;
    }

    /**
     * A sync point: flushes, puts SYNC {@code pass} on every channel and waits until each has
     * written it (and everything before it).
     */
    public void sync(long pass) throws IOException, InterruptedException {
        flush();
        for (Channel c : channels) {
            offer(c, new SyncMark(pass));
        }
        lock.lock();
        try {
            while (true) {
                checkFailure();
                boolean all = true;
                for (Channel c : channels) {
                    all &= c.synced >= pass;
                }
                if (all) {
                    return;
                }
                progress.await(POLL_MS, TimeUnit.MILLISECONDS);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * After the last sync: ends the channel threads and closes the channels (the destination
     * reads their end after the last SYNC as a clean end).
     */
    public void finish() throws IOException, InterruptedException {
        for (Channel c : channels) {
            offer(c, Stop.INSTANCE);
        }
        for (Channel c : channels) {
            c.thread.join();
        }
        checkFailure();
        close();
    }

    /** Closes every channel and ends their threads (idempotent; after a failure, a cancel or {@link #finish}). */
    @Override
    public void close() {
        for (Channel c : channels) {
            c.closeChannel();
        }
        for (Channel c : channels) {
            Thread t = c.thread;
            if (t != null) {
                t.interrupt();
                boolean interrupted = false;
                while (true) {
                    try {
                        t.join();
                        break;
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private Batch take() throws IOException, InterruptedException {
        while (true) {
            checkFailure();
            Batch b = pool.poll(POLL_MS, TimeUnit.MILLISECONDS);
            if (b != null) {
                b.count = 0;
                return b;
            }
        }
    }

    private void offer(Channel c, Work w) throws IOException, InterruptedException {
        while (!c.queue.offer(w, POLL_MS, TimeUnit.MILLISECONDS)) {
            checkFailure();
        }
    }

    private void checkFailure() throws IOException {
        IOException e = failure.get();
        if (e != null) {
            throw e;
        }
    }

    private void fail(IOException e) {
        if (failure.compareAndSet(null, e)) {
            // One channel failing fails them all: close the others, so no thread stays blocked in a write.
            for (Channel c : channels) {
                c.closeChannel();
            }
        }
        lock.lock();
        try {
            progress.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** What a channel's queue holds. */
    private sealed interface Work permits Batch, SyncMark, Stop {
    }

    /** Up to MULTIFD_MAX_PAGES pages of one block; reused through the pool. */
    private static final class Batch implements Work {
        final long[] pages = new long[WireFormat.MULTIFD_MAX_PAGES];
        int blockIndex;
        RamBlock block;
        int count;
    }

    private record SyncMark(long pass) implements Work {
    }

    private enum Stop implements Work {
        INSTANCE
    }

    /** One channel: its connection, its queue and its thread's buffers. */
    private final class Channel {
        final int index;
        final GatheringByteChannel channel;
        final BlockingQueue<Work> queue = new ArrayBlockingQueue<>(2);
        final boolean verified;
        final boolean detectZeroPages;
        final MultifdCompression compression;
        final MultifdConfig config;
        /** Set before the thread starts. */
        Thread thread;
        /** Last SYNC written; written by the channel thread, read under {@link #lock}. */
        volatile long synced;

        // Confined to the channel thread.
        private final ByteBuffer head = ByteBuffer.allocateDirect(WireFormat.RECORD_HEADER_SIZE
                + WireFormat.MULTIFD_PAGES_FIXED + 8 * WireFormat.MULTIFD_MAX_PAGES + WireFormat.CHECKSUM_SIZE)
                .order(WireFormat.ORDER);
        private final ByteBuffer trailer = ByteBuffer.allocateDirect(WireFormat.CHECKSUM_SIZE).order(WireFormat.ORDER);
        /** Page copies: contiguous input of the compressor, or the pages a verified stream checksums; else null. */
        private final ByteBuffer staging;
        private final ByteBuffer compressed;
        private final ByteBuffer[] gather = new ByteBuffer[2 + WireFormat.MULTIFD_MAX_PAGES];
        private final long[] normal = new long[WireFormat.MULTIFD_MAX_PAGES];
        private final long[] zero = new long[WireFormat.MULTIFD_MAX_PAGES];
        private final CRC32C crc = new CRC32C();

        Channel(int index, GatheringByteChannel channel, MultifdConfig config, boolean verified, boolean detectZeroPages) {
            this.index = index;
            this.channel = channel;
            this.config = config;
            this.compression = config.compression();
            this.verified = verified;
            this.detectZeroPages = detectZeroPages;
            boolean copies = verified || compression != MultifdCompression.NONE;
            staging = copies ? ByteBuffer.allocateDirect(WireFormat.MULTIFD_MAX_PAGES * WireFormat.PAGE_SIZE) : null;
            compressed = compression == MultifdCompression.NONE ? null
                    : ByteBuffer.allocateDirect((int) WireFormat.maxMultifdData(WireFormat.MULTIFD_MAX_PAGES));
        }

        void writeHello(MultifdRecord.Hello h) throws IOException {
            head.clear();
            MultifdEncoder.putHello(head, h);
            head.flip();
            gather[0] = head;
            write(1);
        }

        void run() {
            try (PageCodec codec = PageCodec.of(compression, config.zlibLevel(), config.zstdLevel())) {
                while (true) {
                    Work w = queue.take();
                    switch (w) {
                        case Batch b -> {
                            send(b, codec);
                            pool.add(b);
                        }
                        case SyncMark s -> {
                            head.clear();
                            MultifdEncoder.putSync(head, s.pass(), verified);
                            head.flip();
                            gather[0] = head;
                            write(1);
                            synced = s.pass();
                            lock.lock();
                            try {
                                progress.signalAll();
                            } finally {
                                lock.unlock();
                            }
                        }
                        case Stop s -> {
                            endChannel();
                            return;
                        }
                    }
                }
            } catch (InterruptedException e) {
                // closed by the migration thread
            } catch (IOException | RuntimeException e) {
                fail(new IOException("multifd channel " + index + " to the destination failed: " + e.getMessage(), e));
            }
        }

        private void send(Batch b, PageCodec codec) throws IOException {
            int nNormal = 0;
            int nZero = 0;
            for (int i = 0; i < b.count; i++) {
                long page = b.pages[i];
                if (detectZeroPages && b.block.isZeroPage(page)) {
                    zero[nZero++] = page << RamBlock.PAGE_SHIFT;
                } else {
                    normal[nNormal++] = page << RamBlock.PAGE_SHIFT;
                }
            }
            int buffers = 1;
            int dataLength;
            if (staging != null) {
                // A private copy: the guest keeps writing, and the checksum and the compressor must see one version.
                staging.clear();
                for (int i = 0; i < nNormal; i++) {
                    long page = normal[i] >>> RamBlock.PAGE_SHIFT;
                    staging.put(b.block.page(page).asByteBuffer());
                    if (sentCrcs != null) {
                        // Of the copy, where it is encoded: exactly the bytes that are sent.
                        sentCrcs.record(b.blockIndex, page, staging.slice(i * WireFormat.PAGE_SIZE, WireFormat.PAGE_SIZE));
                    }
                }
                staging.flip();
                if (codec != null) {
                    compressed.clear();
                    dataLength = nNormal == 0 ? 0 : codec.compress(staging, compressed);
                    compressed.flip();
                    gather[buffers++] = compressed;
                } else {
                    dataLength = staging.remaining();
                    gather[buffers++] = staging;
                }
            } else {
                // Straight from guest memory: a page written meanwhile is dirty again and goes in a later pass.
                for (int i = 0; i < nNormal; i++) {
                    gather[buffers++] = b.block.page(normal[i] >>> RamBlock.PAGE_SHIFT).asByteBuffer();
                }
                dataLength = nNormal * WireFormat.PAGE_SIZE;
            }
            if (sentCrcs != null) {
                for (int i = 0; i < nZero; i++) {
                    sentCrcs.recordZero(b.blockIndex, zero[i] >>> RamBlock.PAGE_SHIFT);
                }
            }
            head.clear();
            MultifdEncoder.putPagesHead(head, b.blockIndex, normal, nNormal, zero, nZero, compression, dataLength, verified);
            head.flip();
            gather[0] = head;
            if (verified) {
                crc.reset();
                crc.update(head.duplicate());
                for (int i = 1; i < buffers; i++) {
                    crc.update(gather[i].duplicate());
                }
                trailer.clear().putInt((int) crc.getValue()).flip();
                gather[buffers++] = trailer;
            }
            write(buffers);
            counters.normalPages.add(nNormal);
            counters.zeroPages.add(nZero);
        }

        private void write(int count) throws IOException {
            long total = 0;
            try {
                while (gather[count - 1].hasRemaining()) {
                    total += channel.write(gather, 0, count);
                }
            } finally {
                counters.bytes.add(total);
                java.util.Arrays.fill(gather, 0, count, null);
            }
        }

        /**
         * After the last SYNC: a TLS channel ends in order (close_notify, then what the
         * destination still sends is read until it closes), because closing a socket with unread
         * input (a TLS 1.3 server's session tickets) resets the connection, and a reset drops
         * what the destination has not read yet, the last SYNC included. A plain channel has
         * nothing unread: {@link #close} closes it.
         */
        private void endChannel() throws IOException {
            if (channel instanceof dev.converge.qmp.tls.SecureChannel tls) {
                tls.closeGracefully(END_WAIT);
            }
        }

        void closeChannel() {
            try {
                channel.close();
            } catch (IOException e) {
                // only releasing
            }
        }
    }
}
