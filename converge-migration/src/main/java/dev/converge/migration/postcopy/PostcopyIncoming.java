package dev.converge.migration.postcopy;

import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.PageCrcTable;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.precopy.IncomingMigration;
import dev.converge.migration.precopy.MigrationException;
import dev.converge.migration.wire.ChecksumMismatchException;
import dev.converge.migration.wire.ReturnMessage;
import dev.converge.migration.wire.StreamDecoder;
import dev.converge.migration.wire.StreamRecord;
import dev.converge.migration.wire.WireFormat;
import dev.converge.migration.wire.WireFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.Channel;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The destination's postcopy phase, taken over from {@link IncomingMigration} at POSTCOPY_LISTEN:
 * the discard bitmaps mark stale pages missing in the {@link PageStates}, the device state is
 * loaded at POSTCOPY_RUN, every RAM block gets its {@link PageStates#gate} and the machine runs
 * (RESUMED goes back: the source's downtime ends). Then pages arrive, pushed or requested, each
 * loaded once; after POSTCOPY_END with no page missing it checks the RAM digest of a verified
 * stream (every page's CRC as it arrived against the source's digest at the stop), removes the
 * gates and answers POSTCOPY_DONE.
 * <p>
 * When the connection breaks, or {@link #pause} closes it, after the guest started here:
 * postcopy-paused. The guest keeps running; a vCPU that touches a missing page waits (its
 * request is dropped and asked again later). {@link #recover} hands in a new connection (the
 * source's header, layout and POSTCOPY_RESUME): the destination sends its received bitmap and
 * RESUME_READY, asks again for the pages its vCPUs wait for, and goes on. A break before the guest
 * ran here fails the migration as in precopy (the source resumes).
 * <p>
 * With a preempt channel (capability postcopy-preempt) a {@link PreemptReader} reads the requested
 * pages from it on a thread of its own, loading them as this one does (one page at a time under
 * {@link #loadLock}, so a page is loaded once whichever channel brings it); the two channels break,
 * pause and recover together, the preempt one second on a recovery.
 * <p>
 * Threads: {@link #run} on the receiving thread; the preempt channel's reader; vCPUs through the
 * gates and {@link ReturnWriter}; {@link #recover}, {@link #pause}, {@link #close} and the getters
 * from others.
 */
public final class PostcopyIncoming implements AutoCloseable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(PostcopyIncoming.class);

    /** Told about every phase change (the incoming side's status). */
    @FunctionalInterface
    public interface Listener {
        void phase(PostcopyPhase phase, String why);
    }

    private final Machine machine;
    private final List<RamBlock> blocks;
    private final PageCrcTable crcs;
    private final Listener listener;
    private final ReturnWriter writer = new ReturnWriter();
    private final PageStates states;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** Recovery connections handed in, not taken yet, in order (main, then preempt); guarded by lock. */
    private final java.util.ArrayDeque<ByteChannel> recovery = new java.util.ArrayDeque<>();
    /** Whether the migration uses a preempt channel; set before the guest runs here. */
    private volatile boolean preempting;
    /** Loads one page at a time, from either channel. */
    private final ReentrantLock loadLock = new ReentrantLock();
    /** The preempt channel's reader of the current connection, or null; receiving thread. */
    private PreemptReader preemptReader;
    /** The preempt channel of the current connection, for pause and close; null without one. */
    private volatile Channel currentPreempt;
    /**
     * Why the current preempt channel broke, set by its reader just before it closes the main
     * channel, so that the pause reports the preempt channel's reason instead of the closed main
     * channel's; cleared when a reader starts. Written by the preempt reader, read by the main one.
     */
    private volatile MigrationException preemptBreak;
    /** Whether the destination shuts down; guarded by lock. */
    private boolean closed;
    /** The connection being read; receiving thread writes, pause and close close it. */
    private volatile Channel current;

    // Receiving thread only.
    private byte[] deviceState;
    private String sourceDigest;
    private boolean running;
    private boolean endSeen;
    private long bytes;
    /** Pages loaded in postcopy; guarded by loadLock. */
    private long pages;
    /** Of them, pages the preempt channel brought; guarded by loadLock. */
    private long preemptPages;

    /**
     * @param crcs the verified stream's CRC tracker from the precopy phase, or null
     */
    public PostcopyIncoming(Machine machine, List<RamBlock> blocks, PageCrcTable crcs, Listener listener) {
        this.machine = machine;
        this.blocks = blocks;
        this.crcs = crcs;
        this.listener = listener;
        this.states = new PageStates(blocks, machine.spec().vcpus(), (block, page) -> writer.send(
                new ReturnMessage.PageRequest(block, page << RamBlock.PAGE_SHIFT)));
    }

    /** The page states (requests, latency, pages missing). */
    public PageStates states() {
        return states;
    }

    /** Pages loaded in postcopy. */
    public long pages() {
        loadLock.lock();
        try {
            return pages;
        } finally {
            loadLock.unlock();
        }
    }

    /** Pages the preempt channel brought (capability postcopy-preempt). */
    public long preemptPages() {
        loadLock.lock();
        try {
            return preemptPages;
        } finally {
            loadLock.unlock();
        }
    }

    /** Connections a recovery hands in: the main one, and a preempt channel when the migration uses one. */
    public int recoveryConnections() {
        return preempting ? 2 : 1;
    }

    /**
     * Runs the postcopy phase on {@code channel}, continuing {@code decoder} and its input
     * {@code buf} (flipped for reading), until every page arrived.
     *
     * @return what the migration brought
     * @throws MigrationException when the stream fails before the guest ran here (the caller
     *                            discards as in precopy), or postcopy can never finish (the
     *                            destination shuts down, the digest does not match)
     */
    public IncomingMigration.Completed run(ByteChannel channel, StreamDecoder decoder, ByteBuffer buf, long precopyPages,
            long passes, PreemptAcceptor preempt) throws MigrationException {
        ByteChannel ch = channel;
        StreamDecoder dec = decoder;
        ByteBuffer in = buf;
        writer.use(ch);
        current = ch;
        if (preempt != null) {
            preempting = true;
            startPreemptReader(preempt.await(), ch); // before the guest runs: a failure here fails the migration
        }
        try {
            while (true) {
                try {
                    if (receive(ch, dec, in)) {
                        return finish(precopyPages, passes);
                    }
                } catch (IOException | MigrationException.ChannelFailed | MigrationException.ProtocolFailed e) {
                    MigrationException broke = preemptBreak;
                    MigrationException why = broke != null ? broke // the preempt channel closed this one: its reason
                            : e instanceof MigrationException m ? m
                            : new MigrationException.ChannelFailed("incoming migration stream failed: "
                                    + MigrationException.describe(e), e);
                    if (!running) {
                        throw why;
                    }
                    writer.use(null);
                    closeQuietly(ch);
                    stopPreemptReader();
                    log.info("incoming migration of '{}': postcopy paused: {}", machine.name(), why.getMessage());
                    listener.phase(PostcopyPhase.PAUSED, why.getMessage());
                    List<ByteChannel> next = awaitRecovery();
                    listener.phase(PostcopyPhase.RECOVER, null);
                    ch = next.get(0);
                    dec = new StreamDecoder();
                    in = in.clear().flip();
                    current = ch;
                    writer.use(ch);
                    if (preempting) {
                        startPreemptReader(next.get(1), ch);
                    }
                }
            }
        } finally {
            stopPreemptReader();
        }
    }

    /** Reads {@code pch} on its own thread; its break also breaks {@code main}, so that both pause. */
    private void startPreemptReader(ByteChannel pch, ByteChannel main) {
        currentPreempt = pch;
        preemptBreak = null;
        PreemptReader r = new PreemptReader(pch, new PreemptReader.Loader() {
            @Override
            public void layout(StreamRecord.RamBlocks l) throws MigrationException {
                checkLayout(l);
            }

            @Override
            public void page(int block, long offset, ByteBuffer data) {
                if (load(block, offset, data)) {
                    countPreempt();
                }
            }

            @Override
            public void zeroPage(int block, long offset) {
                if (loadZero(block, offset)) {
                    countPreempt();
                }
            }
        }, states, why -> {
            // The main stream's reader only sees its connection closed: say here why the pair pauses.
            MigrationException reason = why != null ? why
                    : new MigrationException.ChannelFailed("postcopy preempt channel ended without a reason", null);
            log.info("incoming migration of '{}': postcopy preempt channel ended: {}", machine.name(), reason.getMessage());
            preemptBreak = reason; // before the close, so that the main reader pauses with this reason
            closeQuietly(main);
        });
        preemptReader = r;
        Thread.ofPlatform().daemon().name(machine.name() + "-migration-preempt").start(r);
    }

    private void countPreempt() {
        loadLock.lock();
        try {
            preemptPages++;
        } finally {
            loadLock.unlock();
        }
    }

    /** Closes the preempt channel of the connection given up; its reader ends without breaking the main one again. */
    private void stopPreemptReader() {
        if (preemptReader != null) {
            preemptReader.stop();
            preemptReader = null;
        }
    }

    private boolean receive(ByteChannel ch, StreamDecoder dec, ByteBuffer in) throws IOException, MigrationException {
        while (true) {
            try {
                StreamRecord r;
                while ((r = dec.decode(in)) != null) {
                    if (apply(r)) {
                        return true;
                    }
                    if (endSeen && running && preemptReader != null) {
                        // Nothing follows END here; the last requested pages may still be on the preempt channel.
                        preemptReader.awaitNoneMissing();
                        return true;
                    }
                }
            } catch (WireFormatException e) {
                throw new MigrationException.ProtocolFailed("incoming migration stream is "
                        + (e instanceof ChecksumMismatchException ? "corrupt: " : "malformed: ") + e.getMessage(), e);
            }
            in.compact();
            int n = ch.read(in);
            in.flip();
            if (n < 0) {
                throw new MigrationException.ChannelFailed("incoming migration stream ended in postcopy (the source "
                        + "is gone or paused)", null);
            }
            bytes += n;
        }
    }

    /** Applies one record; returns whether postcopy is over. */
    private boolean apply(StreamRecord r) throws MigrationException {
        switch (r) {
            case StreamRecord.PostcopyDiscard d -> {
                if (running) {
                    throw protocol("POSTCOPY_DISCARD after POSTCOPY_RUN");
                }
                states.markMissing(d.block(), d.firstPage(), d.words());
            }
            case StreamRecord.DeviceState d -> {
                deviceState = new byte[d.data().remaining()];
                d.data().duplicate().get(deviceState);
            }
            case StreamRecord.PostcopyRun run -> startGuest(run);
            case StreamRecord.Page p -> load(p.block(), p.offset(), p.data());
            case StreamRecord.PageBatch b -> {
                for (int i = 0; i < b.offsets().length; i++) {
                    load(b.block(), b.offsets()[i], b.page(i));
                }
            }
            case StreamRecord.ZeroPage z -> loadZero(z.block(), z.offset());
            case StreamRecord.PostcopyEnd e -> {
                endSeen = true;
                sourceDigest = e.ramDigest();
            }
            case StreamRecord.Header h -> { } // a recovery connection; the decoder checked it
            case StreamRecord.RamBlocks l -> checkLayout(l);
            case StreamRecord.PostcopyResume pr -> resume();
            default -> throw protocol("unexpected record " + r.getClass().getSimpleName() + " in postcopy");
        }
        return running && endSeen && states.missing() == 0;
    }

    /**
     * Loads a page unless it is there already (a copy sent again after recovery). Either channel's
     * reader. Returns whether it loaded it.
     */
    private boolean load(int block, long offset, ByteBuffer data) {
        long page = offset >>> RamBlock.PAGE_SHIFT;
        loadLock.lock();
        try {
            if (!states.needs(block, page)) {
                return false;
            }
            if (crcs != null) {
                crcs.record(block, page, data); // where it is decoded, as precopy's receiver
            }
            blocks.get(block).loadPage(offset, data);
            states.arrived(block, page);
            pages++;
            return true;
        } finally {
            loadLock.unlock();
        }
    }

    private boolean loadZero(int block, long offset) {
        long page = offset >>> RamBlock.PAGE_SHIFT;
        loadLock.lock();
        try {
            if (!states.needs(block, page)) {
                return false;
            }
            blocks.get(block).loadZeroPage(offset);
            if (crcs != null) {
                crcs.recordZero(block, page);
            }
            states.arrived(block, page);
            pages++;
            return true;
        } finally {
            loadLock.unlock();
        }
    }

    private void startGuest(StreamRecord.PostcopyRun run) throws MigrationException {
        if (deviceState == null || running) {
            throw protocol(running ? "a second POSTCOPY_RUN" : "POSTCOPY_RUN before DEVICE_STATE");
        }
        try {
            machine.loadDeviceState(ByteBuffer.wrap(deviceState));
        } catch (IllegalArgumentException e) {
            throw new MigrationException.IncomingRejected("incoming migration refused: device state does not fit the "
                    + "destination: " + e.getMessage(), e);
        }
        for (int b = 0; b < blocks.size(); b++) {
            blocks.get(b).setPageGate(states.gate(b));
        }
        running = true;
        listener.phase(PostcopyPhase.ACTIVE, null);
        log.info("incoming migration of '{}': postcopy, the guest runs here with {} pages missing", machine.name(),
                states.missing());
        machine.incomingCompleted();
        writer.send(new ReturnMessage.Resumed());
    }

    private void checkLayout(StreamRecord.RamBlocks l) throws MigrationException {
        List<StreamRecord.BlockInfo> d = l.blocks();
        boolean same = d.size() == blocks.size();
        for (int i = 0; same && i < d.size(); i++) {
            same = d.get(i).name().equals(blocks.get(i).name()) && d.get(i).size() == blocks.get(i).size();
        }
        if (!same) {
            throw protocol("the recovery connection's RAM layout differs from the migration's");
        }
    }

    /** A recovery connection asks what we hold: the received bitmap, RESUME_READY, the requests again. */
    private void resume() throws MigrationException {
        if (!running) {
            throw protocol("POSTCOPY_RESUME before the guest ran here");
        }
        for (int b = 0; b < states.blocks(); b++) {
            long words = (states.pages(b) + 63) / 64;
            for (long w = 0; w < words; w += WireFormat.MAX_BITMAP_WORDS) {
                int n = (int) Math.min(WireFormat.MAX_BITMAP_WORDS, words - w);
                if (!writer.send(new ReturnMessage.ReceivedBitmap(b, 64 * w, states.receivedWords(b, 64 * w, n)))) {
                    throw new MigrationException.ChannelFailed("return path failed during postcopy recovery", null);
                }
            }
        }
        writer.send(new ReturnMessage.ResumeReady());
        for (long[] p : states.requested()) {
            writer.send(new ReturnMessage.PageRequest((int) p[0], p[1] << RamBlock.PAGE_SHIFT));
        }
        log.info("incoming migration of '{}': postcopy recovered, {} pages missing", machine.name(), states.missing());
        listener.phase(PostcopyPhase.ACTIVE, null);
    }

    private IncomingMigration.Completed finish(long precopyPages, long passes) throws MigrationException {
        for (RamBlock b : blocks) {
            b.setPageGate(null);
        }
        if (crcs != null && sourceDigest != null) {
            String mine = crcs.digest();
            if (!mine.equals(sourceDigest)) {
                String why = "RAM digest mismatch after postcopy: " + mine + " on the destination (expected: "
                        + sourceDigest + ", the source's at the stop)";
                writer.send(new ReturnMessage.Error(why));
                throw new MigrationException.IncomingRejected(why, null);
            }
        }
        writer.send(new ReturnMessage.PostcopyDone());
        log.info("incoming migration of '{}': postcopy complete, {} pages in postcopy, {} requested", machine.name(),
                pages, states.requests());
        return new IncomingMigration.Completed(precopyPages + pages, passes);
    }

    private static MigrationException protocol(String what) {
        return new MigrationException.ProtocolFailed("incoming postcopy stream: " + what, null);
    }

    /** The connections of the next recovery: the main one, then (preempting) the preempt channel. */
    private List<ByteChannel> awaitRecovery() throws MigrationException {
        int needed = recoveryConnections();
        lock.lock();
        try {
            while (recovery.size() < needed) {
                if (closed) {
                    throw new MigrationException.ChannelFailed("the destination shut down while postcopy was paused: "
                            + "the guest is lost", null);
                }
                changed.awaitUninterruptibly();
            }
            List<ByteChannel> chs = new java.util.ArrayList<>();
            for (int i = 0; i < needed; i++) {
                chs.add(recovery.poll());
            }
            return chs;
        } finally {
            lock.unlock();
        }
    }

    /**
     * A recovery connection (migrate-recover accepted it), in the order the source opens them:
     * the main one, then the preempt channel. A new main connection drops what an earlier,
     * incomplete recovery handed in. Any thread.
     */
    public void recover(ByteChannel ch, boolean first) {
        lock.lock();
        try {
            if (closed) {
                closeQuietly(ch);
                return;
            }
            if (first) {
                recovery.forEach(PostcopyIncoming::closeQuietly);
                recovery.clear();
            }
            recovery.add(ch);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** migrate-pause: closes the connection (both channels); the receiving thread pauses. Any thread. */
    public void pause() {
        closeQuietly(current);
        closeQuietly(currentPreempt);
    }

    /**
     * The destination shuts down: waiting vCPUs fail (the guest is lost unless postcopy was
     * complete), a paused postcopy ends.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        states.abandon("the destination shut down during postcopy");
        closeQuietly(current);
        closeQuietly(currentPreempt);
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
