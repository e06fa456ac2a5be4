package dev.converge.migration.postcopy;

import dev.converge.migration.precopy.MigrationException;
import dev.converge.migration.wire.ChecksumMismatchException;
import dev.converge.migration.wire.StreamDecoder;
import dev.converge.migration.wire.StreamRecord;
import dev.converge.migration.wire.WireFormat;
import dev.converge.migration.wire.WireFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Reads one preempt channel of a postcopy destination on its own thread: header, RAM_BLOCKS
 * (the migration's layout), POSTCOPY_PREEMPT, then the requested pages, each loaded through the
 * {@link Loader} the main stream's reader uses too. When the channel fails or ends, it says why
 * and hands that to {@code onBreak} (which breaks the main connection: the two pause together),
 * unless the main stream's reader {@link #stop stopped} it, having given up its connection already.
 * <p>
 * Threads: {@link #run} on the reader's thread; {@link #awaitNoneMissing} on the main stream's.
 */
final class PreemptReader implements Runnable {
    /** Where pages go, and the layout check: the main reader's. */
    interface Loader {
        void layout(StreamRecord.RamBlocks l) throws MigrationException;

        void page(int block, long offset, ByteBuffer data);

        void zeroPage(int block, long offset);
    }

    private final ByteChannel channel;
    private final Loader loader;
    private final PageStates states;
    private final Consumer<MigrationException> onBreak;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition loaded = lock.newCondition();
    /** Why the channel ended, or null while it runs; guarded by lock. */
    private MigrationException ended;
    /** Whether the main stream's reader closed this channel ({@link #stop}). */
    private volatile boolean stopped;

    PreemptReader(ByteChannel channel, Loader loader, PageStates states,
            Consumer<MigrationException> onBreak) {
        this.channel = channel;
        this.loader = loader;
        this.states = states;
        this.onBreak = onBreak;
    }

    /** Closes the channel of a connection given up (or complete); the reader ends without calling onBreak. */
    void stop() {
        stopped = true;
        try {
            channel.close();
        } catch (IOException e) {
            // only releasing
        }
    }

    @Override
    public void run() {
        MigrationException why;
        try {
            read();
            why = null; // not reached: read ends by an exception
        } catch (MigrationException e) {
            why = e;
        } catch (IOException e) {
            why = new MigrationException.ChannelFailed("postcopy preempt channel failed: " + e.getMessage(), e);
        }
        lock.lock();
        try {
            ended = why;
            loaded.signalAll();
        } finally {
            lock.unlock();
        }
        if (!stopped) {
            onBreak.accept(why);
        }
    }

    private void read() throws IOException, MigrationException {
        StreamDecoder decoder = new StreamDecoder();
        ByteBuffer in = ByteBuffer.allocateDirect(WireFormat.MAX_RECORD_SIZE).flip();
        boolean greeted = false;
        while (true) {
            try {
                StreamRecord r;
                while ((r = decoder.decode(in)) != null) {
                    boolean page = r instanceof StreamRecord.PageBatch || r instanceof StreamRecord.ZeroPage;
                    boolean expected = greeted ? page : r instanceof StreamRecord.Header
                            || r instanceof StreamRecord.RamBlocks || r instanceof StreamRecord.PostcopyPreempt;
                    if (!expected) {
                        throw new MigrationException.ProtocolFailed("postcopy preempt channel: unexpected record "
                                + r.getClass().getSimpleName() + (greeted ? "" : " before POSTCOPY_PREEMPT"), null);
                    }
                    switch (r) {
                        case StreamRecord.RamBlocks l -> loader.layout(l);
                        case StreamRecord.PostcopyPreempt p -> greeted = true;
                        case StreamRecord.PageBatch b -> {
                            for (int i = 0; i < b.offsets().length; i++) {
                                loader.page(b.block(), b.offsets()[i], b.page(i));
                            }
                        }
                        case StreamRecord.ZeroPage z -> loader.zeroPage(z.block(), z.offset());
                        default -> { } // the header: the decoder checked it
                    }
                }
            } catch (WireFormatException e) {
                throw new MigrationException.ProtocolFailed("postcopy preempt channel is "
                        + (e instanceof ChecksumMismatchException ? "corrupt: " : "malformed: ") + e.getMessage(), e);
            }
            signalLoaded();
            in.compact();
            int n = channel.read(in);
            in.flip();
            if (n < 0) {
                throw new MigrationException.ChannelFailed("postcopy preempt channel ended (the source is gone or paused)",
                        null);
            }
        }
    }

    private void signalLoaded() {
        lock.lock();
        try {
            loaded.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * After POSTCOPY_END on the main stream: waits until no page is missing (the last requested
     * ones may still be on their way here).
     *
     * @throws MigrationException.ChannelFailed when this channel ended first
     */
    void awaitNoneMissing() throws MigrationException {
        lock.lock();
        try {
            while (states.missing() > 0) {
                if (ended != null) {
                    throw ended;
                }
                loaded.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
    }
}
