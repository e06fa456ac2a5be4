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
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

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
 * first, and the background push, which walks the bitmap in order at max-postcopy-bandwidth. A
 * request never waits for that limit. Without a preempt channel a request goes out on the main
 * stream between two batches of the push (the limiter's wait is a wait for the next request),
 * behind whatever the push already queued in the socket; with one (capability postcopy-preempt,
 * QEMU's design) the return path's reader writes the requested page at once onto the preempt
 * channel, which nothing else fills. When the bitmap is empty, POSTCOPY_END on the main stream
 * (the destination also waits for pages still on their way on the preempt channel).</li>
 * <li>When the connection breaks (or migrate-pause closes it): postcopy-paused. Nothing is lost:
 * the source is stopped, so its RAM is the truth, and on a recovery connection the destination
 * sends what it holds; every page it lacks (also those lost in flight) is sent again.</li>
 * </ol>
 * The source is stopped throughout, so pages are written straight from guest RAM (also in a
 * verified stream: nothing changes them while they are checksummed).
 * <p>
 * Threads: everything on the migration's thread, except the {@link ReturnPath} readers, which
 * put events into {@link #events} and, with a preempt channel, send the requested pages on it.
 * {@link #lock} guards the bitmap and the counters both touch. Each connection has a number;
 * events of a connection given up are dropped.
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

    /** A requested page went out on the preempt channel (the counters changed). */
    private record Served(int connection) implements Event {
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
    private final boolean verified;
    private final PostcopyControl control;
    private final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
    /** Guards {@link #toSend} and the counters: the migration's thread and, with preempt, the return path's. */
    private final Object lock = new Object();
    private final MigrationBitmap toSend;
    /** Pages marked in {@link #toSend}. */
    private long pagesLeft;
    private long pagesSent;
    private long zeroPages;
    private long bytes;
    private long requests;
    /**
     * The connection whose requests may take pages: a return path reader of a connection given up
     * must not take a page from the bitmap a recovery reset (it could not send it any more).
     */
    private int servingConnection;

    // Confined to the migration's thread.
    private int connection;
    private PageWriter main;
    /** The preempt channel of the current connection, null without one. */
    private GatheringByteChannel preempt;
    /** Whether this migration uses a preempt channel (then every recovery opens one too). */
    private boolean preempting;
    private int recoveries;
    /** The RAM digest at the stop, once computed (verified streams). */
    private String digest;
    /** System.nanoTime() before which the background push must not send (max-postcopy-bandwidth). */
    private long nextBackground;
    private int cursorBlock;
    private long cursorPage;
    private final long[] batchPages = new long[BATCH];

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
     * @param preemptChannel the preempt channel opened at the start ({@link #greetPreempt}), or null
     * @throws MigrationException.ChannelFailed the switch was not written whole; the destination
     *                                          does not run the guest, the source may resume
     */
    public void start(GatheringByteChannel channel, ReturnPath rp, GatheringByteChannel preemptChannel)
            throws MigrationException {
        connection++;
        preempting = preemptChannel != null;
        use(channel, preemptChannel);
        rp.divert(sink(connection, preemptChannel == null ? null : new PageWriter(blocks, verified, preemptChannel)));
        synchronized (lock) {
            pagesLeft = toSend.count();
            servingConnection = connection;
        }
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
        log.info("migration of '{}': postcopy{}, {} pages left to send", machine.name(),
                preempting ? " with a preempt channel" : "", pagesLeft);
    }

    /**
     * Opens {@code ch} as the preempt channel of a migration of {@code ram}: header, layout and
     * POSTCOPY_PREEMPT; pages follow in postcopy only.
     *
     * @throws MigrationException.ChannelFailed when the write fails
     */
    public static void greetPreempt(GatheringByteChannel ch, GuestRam ram, boolean verified) throws MigrationException {
        ByteBuffer header = ByteBuffer.allocate(WireFormat.STREAM_HEADER_SIZE);
        StreamEncoder.putHeader(header, WireFormat.VERSION_CURRENT,
                (verified ? WireFormat.FLAG_VERIFIED : 0) | WireFormat.FLAG_POSTCOPY);
        ByteBuffer[] records = {header.flip(), StreamEncoder.encode(new StreamRecord.RamBlocks(layout(ram.blocks())), verified),
                StreamEncoder.encode(new StreamRecord.PostcopyPreempt(), verified)};
        PageWriter.write(ch, records, records.length);
    }

    private static List<StreamRecord.BlockInfo> layout(List<RamBlock> blocks) {
        return blocks.stream().map(b -> new StreamRecord.BlockInfo(b.name(), b.size())).toList();
    }

    private void use(GatheringByteChannel channel, GatheringByteChannel preemptChannel) {
        main = new PageWriter(blocks, verified, channel);
        preempt = preemptChannel;
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
                    if (pagesLeft() > 0) {
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
                        closeQuietly(main.channel());
                        closeQuietly(preempt);
                        synchronized (lock) {
                            return new Result(pagesSent, zeroPages, bytes, requests, recoveries);
                        }
                    }
                    case Broken b -> throw b.why();
                    case Served s -> report();
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

    private long pagesLeft() {
        synchronized (lock) {
            return pagesLeft;
        }
    }

    /** A request on the main stream (no preempt channel). */
    private void serve(Request r) throws MigrationException {
        checkRequest(r.block(), r.page());
        synchronized (lock) {
            requests++;
            if (!take(r.block(), r.page())) {
                return; // sent already (in flight); the destination's vCPU gets it with that copy
            }
        }
        batchPages[0] = r.page();
        account(main.send(r.block(), batchPages, 1), 1);
        report();
    }

    /**
     * A request with a preempt channel, on the return path's thread: the page goes out on
     * {@code urgent} at once, whatever the migration's thread is writing on the main stream.
     */
    private void serveUrgent(int c, PageWriter urgent, int block, long page) {
        try {
            checkRequest(block, page);
            synchronized (lock) {
                if (c != servingConnection) {
                    return; // a connection given up; its requests are asked again on the new one
                }
                requests++;
                if (!take(block, page)) {
                    return;
                }
            }
            account(urgent.send(block, new long[] {page}, 1), 1);
            events.add(new Served(c));
        } catch (MigrationException e) {
            // What was taken and not sent is sent again after recovery (the destination's bitmap says it lacks it).
            events.add(new Broken(c, e));
        }
    }

    private void checkRequest(int block, long page) throws MigrationException {
        if (block < 0 || block >= blocks.size() || page < 0 || page >= blocks.get(block).pages()) {
            throw new MigrationException.ProtocolFailed("destination requested page " + page + " of block "
                    + block + ", which does not exist", null);
        }
    }

    /** Takes a page to send when it is still marked. Under {@link #lock}. */
    private boolean take(int block, long page) {
        if (!toSend.isSet(block, page)) {
            return false;
        }
        toSend.clear(block, page);
        pagesLeft--;
        return true;
    }

    private void account(PageWriter.Sent sent, int pages) {
        synchronized (lock) {
            pagesSent += pages;
            zeroPages += sent.zeroPages();
            bytes += sent.bytes();
        }
    }

    /** Sends up to one batch of marked pages of one block from the cursor, then charges the limiter. */
    private void pushBackground() throws MigrationException {
        int n = 0;
        int block = cursorBlock;
        synchronized (lock) {
            if (pagesLeft == 0) {
                return; // the preempt channel sent the rest
            }
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
            pagesLeft -= n;
        }
        PageWriter.Sent sent = main.send(block, batchPages, n);
        account(sent, n);
        report();
        long bw = control.maxPostcopyBandwidth();
        if (bw > 0) {
            long now = System.nanoTime();
            nextBackground = Math.max(nextBackground, now - TimeUnit.MILLISECONDS.toNanos(10))
                    + (long) (sent.bytes() * 1e9 / bw);
        }
    }

    private void report() {
        PostcopyProgress p;
        synchronized (lock) {
            p = new PostcopyProgress(pagesSent, pagesLeft, requests, bytes);
        }
        control.progress(p);
    }

    /** Paused: waits for recovery connections until one recovers. */
    private void pause(MigrationException why, Deque<Request> deferred) throws MigrationException, InterruptedException {
        closeQuietly(main.channel());
        closeQuietly(preempt);
        log.info("migration of '{}': postcopy paused: {}", machine.name(), why.getMessage());
        control.phase(PostcopyPhase.PAUSED, why.getMessage());
        while (true) {
            PostcopyControl.Recovery r = control.awaitRecovery(preempting);
            try {
                recover(r, deferred);
                return;
            } catch (MigrationException.ChannelFailed | MigrationException.ProtocolFailed e) {
                closeQuietly(r.main());
                closeQuietly(r.preempt());
                log.info("migration of '{}': postcopy recovery failed: {}", machine.name(), e.getMessage());
                control.phase(PostcopyPhase.PAUSED, e.getMessage());
            }
        }
    }

    /**
     * Recovery on {@code r}: stream header, layout, POSTCOPY_RESUME (and a new preempt channel
     * greeted as at the start); the destination's received bitmap decides what is still to send
     * (everything it lacks, whatever was sent before).
     */
    private void recover(PostcopyControl.Recovery r, Deque<Request> deferred) throws MigrationException, InterruptedException {
        connection++;
        int c = connection;
        control.phase(PostcopyPhase.RECOVER, null);
        synchronized (lock) {
            toSend.setAll(); // until the destination's bitmap says what it holds
            pagesLeft = toSend.count();
            servingConnection = c;
        }
        deferred.clear();
        use(r.main(), r.preempt());
        // The greeting goes first on the new preempt channel, before the return path's reader starts:
        // the destination's vCPUs may request pages on the new connection at once, and that reader
        // writes each requested page onto this channel as it reads the request. A page ahead of the
        // greeting breaks the channel (the destination pauses again, and nothing ever resumes it).
        if (r.preempt() != null) {
            greetPreempt(r.preempt(), ram, verified);
        }
        ReturnPath rp = new ReturnPath(r.main());
        rp.divert(sink(c, r.preempt() == null ? null : new PageWriter(blocks, verified, r.preempt())));
        Thread.ofVirtual().name(machine.name() + "-migration-return").start(rp);
        ByteBuffer header = ByteBuffer.allocate(WireFormat.STREAM_HEADER_SIZE);
        StreamEncoder.putHeader(header, WireFormat.VERSION_CURRENT,
                (verified ? WireFormat.FLAG_VERIFIED : 0) | WireFormat.FLAG_POSTCOPY);
        write(header.flip(), StreamEncoder.encode(new StreamRecord.RamBlocks(layout(blocks)), verified),
                StreamEncoder.encode(new StreamRecord.PostcopyResume(), verified));
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
                    synchronized (lock) {
                        long[] words = toSend.words(b.block());
                        int first = (int) (b.firstPage() >>> 6);
                        for (int w = 0; w < b.words().length && first + w < words.length; w++) {
                            words[first + w] &= ~b.words()[w];
                        }
                    }
                }
                case Request q -> deferred.add(q);
                case Ready q -> {
                    long left;
                    synchronized (lock) {
                        pagesLeft = toSend.count();
                        left = pagesLeft;
                    }
                    cursorBlock = 0;
                    cursorPage = 0;
                    recoveries++;
                    log.info("migration of '{}': postcopy recovered, {} pages left to send", machine.name(), left);
                    control.phase(PostcopyPhase.ACTIVE, null);
                    report();
                    return;
                }
                case Served q -> { } // a request served on the new preempt channel before RESUME_READY
                case Done d -> { } // cannot come before RESUME_READY
                case Broken b -> throw b.why();
            }
        }
    }

    /** What the return path of connection {@code c} reports; with {@code urgent}, requests are served on it at once. */
    private ReturnPath.PostcopySink sink(int c, PageWriter urgent) {
        return new ReturnPath.PostcopySink() {
            @Override
            public void message(ReturnMessage m) {
                switch (m) {
                    case ReturnMessage.PageRequest r -> {
                        long page = r.offset() >>> RamBlock.PAGE_SHIFT;
                        if (urgent != null) {
                            serveUrgent(c, urgent, r.block(), page);
                        } else {
                            events.add(new Request(c, r.block(), page));
                        }
                    }
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

    /** Writes control records on the main stream. */
    private void write(ByteBuffer... buffers) throws MigrationException {
        long n = PageWriter.write(main.channel(), buffers, buffers.length);
        synchronized (lock) {
            bytes += n;
        }
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
