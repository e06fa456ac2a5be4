package dev.converge.migration.postcopy;

import dev.converge.migration.machine.GuestRam;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.MigrationBitmap;
import dev.converge.migration.machine.PageCrcTable;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.precopy.MigrationException;
import dev.converge.migration.precopy.ReturnPath;
import dev.converge.migration.wire.ReturnMessage;
import dev.converge.migration.wire.StreamEncoder;
import dev.converge.migration.wire.StreamRecord;
import dev.converge.migration.wire.WireFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * The source's postcopy phase (capability postcopy-ram), after the precopy sender stopped the
 * vCPUs and synced the dirty log one last time: the bitmap it hands over holds exactly the pages
 * whose copy on the destination is stale.
 * <ol>
 * <li>{@link #start}: POSTCOPY_LISTEN, the bitmap as POSTCOPY_DISCARD records, the device state
 * and POSTCOPY_RUN. Once that is written
 * the destination runs the guest; a failure before that leaves the source to resume as in
 * precopy.</li>
 * <li>{@link #run}: until the destination says POSTCOPY_DONE, send every page still marked,
 * each exactly once per connection: pages the destination requests (its vCPUs wait for them)
 * first, between batches of the background push, which walks the bitmap in order at
 * max-postcopy-bandwidth. A request never waits for that limit: the limiter's wait is a wait for
 * the next request. When the bitmap is empty, POSTCOPY_END.</li>
 * <li>When the connection breaks (or migrate-pause closes it): postcopy-paused. Nothing is lost:
 * the source is stopped, so its RAM is the truth, and on a recovery connection the destination
 * sends what it holds; every page it lacks (also those lost in flight) is sent again.</li>
 * </ol>
 * The source is stopped throughout, so pages are written straight from guest RAM (also in a
 * verified stream: nothing changes them while they are checksummed).
 * <p>
 * Threads: everything on the migration's thread, except the {@link ReturnPath} readers, which
 * only put events into {@link #events}. Each connection has a number; events of a connection
 * given up are dropped.
 */
public final class PostcopySource {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(PostcopySource.class);
    private static final int BATCH = WireFormat.MAX_BATCH_PAGES;

    /** What a return path reader reports, tagged with its connection. */
    private sealed interface Event {
        int connection();
    }

    private record Request(int connection, int block, long page) implements Event {
    }

    private record Bitmap(int connection, int block, long firstPage, long[] words) implements Event {
    }

    private record Ready(int connection) implements Event {
    }

    private record Done(int connection) implements Event {
    }

    private record Broken(int connection, MigrationException why) implements Event {
    }

    /**
     * How the postcopy phase went.
     *
     * @param pagesSent pages sent with data or as zero markers
     * @param zeroPages of them, zero markers
     * @param bytes     bytes written in postcopy, framing included (postcopy-bytes)
     * @param requests  page requests received
     * @param recoveries recovered connections
     */
    public record Result(long pagesSent, long zeroPages, long bytes, long requests, int recoveries) {
    }

    private final Machine machine;
    private final GuestRam ram;
    private final List<RamBlock> blocks;
    private final MigrationBitmap toSend;
    private final boolean verified;
    private final PostcopyControl control;
    private final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();

    // Confined to the migration's thread.
    private int connection;
    private GatheringByteChannel out;
    private long pagesLeft;
    private long pagesSent;
    private long zeroPages;
    private long bytes;
    private long requests;
    private int recoveries;
    /** The RAM digest at the stop, once computed (verified streams). */
    private String digest;
    /** System.nanoTime() before which the background push must not send (max-postcopy-bandwidth). */
    private long nextBackground;
    private int cursorBlock;
    private long cursorPage;
    private final ByteBuffer head = ByteBuffer.allocateDirect(16 << 10).order(WireFormat.ORDER);
    private final ByteBuffer trailer = ByteBuffer.allocateDirect(WireFormat.CHECKSUM_SIZE).order(WireFormat.ORDER);
    private final ByteBuffer[] gather = new ByteBuffer[2 + BATCH];
    private final long[] batchPages = new long[BATCH];
    private final long[] dataOffsets = new long[BATCH];
    private final CRC32C crc = new CRC32C();

    /**
     * @param toSend the pages still dirty at the stop; this phase owns and empties it
     */
    public PostcopySource(Machine machine, MigrationBitmap toSend, boolean verified, PostcopyControl control) {
        this.machine = machine;
        this.ram = machine.ram();
        this.blocks = ram.blocks();
        this.toSend = toSend;
        this.verified = verified;
        this.control = control;
    }

    /**
     * Sends the switch to postcopy on {@code channel} (whose return path {@code rp} reads): after
     * it returns, the destination runs the guest.
     *
     * @throws MigrationException.ChannelFailed the switch was not written whole; the destination
     *                                          does not run the guest, the source may resume
     */
    public void start(GatheringByteChannel channel, ReturnPath rp) throws MigrationException {
        connection++;
        rp.divert(sink(connection));
        out = channel;
        pagesLeft = toSend.count();
        List<ByteBuffer> records = new ArrayList<>();
        records.add(StreamEncoder.encode(new StreamRecord.PostcopyListen(), verified));
        for (int b = 0; b < blocks.size(); b++) {
            long[] words = toSend.words(b);
            for (int w = 0; w < words.length; w += WireFormat.MAX_BITMAP_WORDS) {
                long[] chunk = java.util.Arrays.copyOfRange(words, w, Math.min(words.length, w + WireFormat.MAX_BITMAP_WORDS));
                if (java.util.Arrays.stream(chunk).anyMatch(x -> x != 0)) {
                    records.add(StreamEncoder.encode(new StreamRecord.PostcopyDiscard(b, 64L * w, chunk), verified));
                }
            }
        }
        records.add(StreamEncoder.encode(new StreamRecord.DeviceState(ByteBuffer.wrap(machine.saveDeviceState())), verified));
        records.add(StreamEncoder.encode(new StreamRecord.PostcopyRun(), verified));
        write(records.toArray(ByteBuffer[]::new));
        log.info("migration of '{}': postcopy, {} pages left to send", machine.name(), pagesLeft);
    }

    /**
     * Sends every page the destination lacks, through pauses and recoveries, until it holds
     * them all.
     *
     * @throws MigrationException the destination failed, or the migration can never resume
     */
    public Result run() throws MigrationException, InterruptedException {
        control.phase(PostcopyPhase.ACTIVE, null);
        report();
        Deque<Request> deferred = new ArrayDeque<>();
        boolean endSent = false;
        while (true) {
            try {
                Event e = deferred.poll();
                if (e == null) {
                    e = events.poll();
                }
                if (e == null) {
                    if (pagesLeft > 0) {
                        long wait = nextBackground - System.nanoTime();
                        if (wait <= 0) {
                            pushBackground();
                            continue;
                        }
                        e = events.poll(wait, TimeUnit.NANOSECONDS); // a request ends the wait at once
                        if (e == null) {
                            continue;
                        }
                    } else if (!endSent) {
                        write(StreamEncoder.encode(new StreamRecord.PostcopyEnd(ramDigest()), verified));
                        endSent = true;
                        continue;
                    } else {
                        e = events.take();
                    }
                }
                if (e.connection() != connection) {
                    continue;
                }
                switch (e) {
                    case Request r -> serve(r);
                    case Done d -> {
                        closeQuietly(out);
                        return new Result(pagesSent, zeroPages, bytes, requests, recoveries);
                    }
                    case Broken b -> throw b.why();
                    case Bitmap b -> { } // only during recovery
                    case Ready r -> { }
                }
            } catch (MigrationException.ChannelFailed | MigrationException.ProtocolFailed e) {
                pause(e, deferred);
                endSent = false;
            }
        }
    }

    /**
     * The RAM digest at the stop for POSTCOPY_END of a verified stream, computed once: the source
     * is stopped, so its RAM is still what it was then, and this is outside the downtime.
     */
    private String ramDigest() {
        if (verified && digest == null) {
            digest = PageCrcTable.scan(ram).digest();
        }
        return digest;
    }

    private void serve(Request r) throws MigrationException {
        requests++;
        if (r.block() < 0 || r.block() >= blocks.size() || r.page() >= blocks.get(r.block()).pages()) {
            throw new MigrationException.ProtocolFailed("destination requested page " + r.page() + " of block "
                    + r.block() + ", which does not exist", null);
        }
        if (toSend.isSet(r.block(), r.page())) {
            toSend.clear(r.block(), r.page());
            batchPages[0] = r.page();
            sendPages(r.block(), 1);
        }
        // else: sent already (in flight); the destination's vCPU gets it with that copy
    }

    /** Sends up to one batch of marked pages of one block from the cursor, then charges the limiter. */
    private void pushBackground() throws MigrationException {
        int n = 0;
        int block = cursorBlock;
        while (n == 0) {
            long p = toSend.nextSet(block, cursorPage);
            if (p < 0) {
                block = (block + 1) % blocks.size();
                cursorBlock = block;
                cursorPage = 0;
                continue;
            }
            while (p >= 0 && n < BATCH) {
                toSend.clear(block, p);
                batchPages[n++] = p;
                cursorPage = p + 1;
                p = toSend.nextSet(block, cursorPage);
            }
        }
        long written = sendPages(block, n);
        long bw = control.maxPostcopyBandwidth();
        if (bw > 0) {
            long now = System.nanoTime();
            nextBackground = Math.max(nextBackground, now - TimeUnit.MILLISECONDS.toNanos(10))
                    + (long) (written * 1e9 / bw);
        }
    }

    /**
     * Sends pages {@code batchPages[0..n)} of {@code block}: zero pages as markers, the others as
     * one PAGE_BATCH written straight from the stopped guest RAM.
     *
     * @return bytes written
     */
    private long sendPages(int block, int n) throws MigrationException {
        RamBlock rb = blocks.get(block);
        head.clear();
        int data = 0;
        for (int i = 0; i < n; i++) {
            long page = batchPages[i];
            if (rb.isZeroPage(page)) {
                StreamEncoder.putZeroPage(head, block, page << RamBlock.PAGE_SHIFT, verified);
                zeroPages++;
            } else {
                dataOffsets[data] = page << RamBlock.PAGE_SHIFT;
                gather[1 + data] = rb.page(page).asByteBuffer();
                data++;
            }
        }
        int count = 1 + data;
        if (data > 0) {
            int start = head.position();
            StreamEncoder.putBatchHead(head, block, dataOffsets, data, verified);
            if (verified) {
                crc.reset();
                crc.update(head.duplicate().limit(head.position()).position(start));
                for (int i = 0; i < data; i++) {
                    crc.update(gather[1 + i].duplicate());
                }
                trailer.clear().putInt((int) crc.getValue()).flip();
                gather[count++] = trailer;
            }
        }
        head.flip();
        gather[0] = head;
        long written = writeGather(count);
        java.util.Arrays.fill(gather, null);
        pagesSent += n;
        pagesLeft -= n;
        report();
        return written;
    }

    private void report() {
        control.progress(new PostcopyProgress(pagesSent, pagesLeft, requests, bytes));
    }

    /** Paused: waits for recovery connections until one recovers. */
    private void pause(MigrationException why, Deque<Request> deferred) throws MigrationException, InterruptedException {
        closeQuietly(out);
        log.info("migration of '{}': postcopy paused: {}", machine.name(), why.getMessage());
        control.phase(PostcopyPhase.PAUSED, why.getMessage());
        while (true) {
            SocketChannel ch = control.awaitRecovery();
            try {
                recover(ch, deferred);
                return;
            } catch (MigrationException.ChannelFailed | MigrationException.ProtocolFailed e) {
                closeQuietly(ch);
                log.info("migration of '{}': postcopy recovery failed: {}", machine.name(), e.getMessage());
                control.phase(PostcopyPhase.PAUSED, e.getMessage());
            }
        }
    }

    /**
     * Recovery on {@code ch}: stream header, layout, POSTCOPY_RESUME; the destination's received
     * bitmap decides what is still to send (everything it lacks, whatever was sent before).
     */
    private void recover(SocketChannel ch, Deque<Request> deferred) throws MigrationException, InterruptedException {
        connection++;
        int c = connection;
        control.phase(PostcopyPhase.RECOVER, null);
        ReturnPath rp = new ReturnPath(ch);
        rp.divert(sink(c));
        Thread.ofVirtual().name(machine.name() + "-migration-return").start(rp);
        out = ch;
        ByteBuffer header = ByteBuffer.allocate(WireFormat.STREAM_HEADER_SIZE);
        StreamEncoder.putHeader(header, WireFormat.VERSION_CURRENT,
                (verified ? WireFormat.FLAG_VERIFIED : 0) | WireFormat.FLAG_POSTCOPY);
        List<StreamRecord.BlockInfo> layout = blocks.stream().map(b -> new StreamRecord.BlockInfo(b.name(), b.size())).toList();
        write(header.flip(), StreamEncoder.encode(new StreamRecord.RamBlocks(layout), verified),
                StreamEncoder.encode(new StreamRecord.PostcopyResume(), verified));
        toSend.setAll();
        deferred.clear();
        while (true) {
            Event e = events.take();
            if (e.connection() != c) {
                continue;
            }
            switch (e) {
                case Bitmap b -> {
                    if (b.block() < 0 || b.block() >= blocks.size()) {
                        throw new MigrationException.ProtocolFailed("received bitmap of block " + b.block()
                                + ", which does not exist", null);
                    }
                    long[] words = toSend.words(b.block());
                    int first = (int) (b.firstPage() >>> 6);
                    for (int w = 0; w < b.words().length && first + w < words.length; w++) {
                        words[first + w] &= ~b.words()[w];
                    }
                }
                case Request r -> deferred.add(r);
                case Ready r -> {
                    pagesLeft = toSend.count();
                    cursorBlock = 0;
                    cursorPage = 0;
                    recoveries++;
                    log.info("migration of '{}': postcopy recovered, {} pages left to send", machine.name(), pagesLeft);
                    control.phase(PostcopyPhase.ACTIVE, null);
                    report();
                    return;
                }
                case Done d -> { } // cannot come before RESUME_READY
                case Broken b -> throw b.why();
            }
        }
    }

    private ReturnPath.PostcopySink sink(int c) {
        return new ReturnPath.PostcopySink() {
            @Override
            public void message(ReturnMessage m) {
                switch (m) {
                    case ReturnMessage.PageRequest r -> events.add(new Request(c, r.block(), r.offset() >>> RamBlock.PAGE_SHIFT));
                    case ReturnMessage.ReceivedBitmap b -> events.add(new Bitmap(c, b.block(), b.firstPage(), b.words()));
                    case ReturnMessage.ResumeReady r -> events.add(new Ready(c));
                    case ReturnMessage.PostcopyDone d -> events.add(new Done(c));
                    default -> { } // RESUMED is timed by the return path; ERROR arrives as the end
                }
            }

            @Override
            public void ended(MigrationException why) {
                events.add(new Broken(c, why != null ? why
                        : new MigrationException.ChannelFailed("the destination closed the connection", null)));
            }
        };
    }

    private void write(ByteBuffer... buffers) throws MigrationException {
        writeAll(buffers, buffers.length);
    }

    private long writeGather(int count) throws MigrationException {
        return writeAll(gather, count);
    }

    /** Writes {@code buffers[0..count)} whole, in order. */
    private long writeAll(ByteBuffer[] buffers, int count) throws MigrationException {
        long total = 0;
        try {
            while (buffers[count - 1].hasRemaining()) {
                total += out.write(buffers, 0, count);
            }
        } catch (IOException e) {
            throw new MigrationException.ChannelFailed("migration stream to the destination failed: " + e.getMessage(), e);
        }
        bytes += total;
        return total;
    }

    private static void closeQuietly(Channel c) {
        try {
            if (c != null) {
                c.close();
            }
        } catch (IOException e) {
            // only releasing
        }
    }
}
