package dev.converge.migration.precopy;

import dev.converge.migration.wire.RecordType;
import dev.converge.migration.wire.ReturnDecoder;
import dev.converge.migration.wire.ReturnMessage;
import dev.converge.migration.wire.WireFormat;
import dev.converge.migration.wire.WireFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The source's reader of the return path: one thread that decodes what the destination sends
 * back while the sender keeps writing, so that the sender learns at once of an ERROR and can
 * time the destination (version 4: PASS_ACK after each END_OF_PASS, RESUMED after START).
 * <p>
 * Timing: the sender calls {@link #passSent} when END_OF_PASS {@code n} is written; the PASS_ACK of
 * {@code n} then gives the destination's <em>lag</em> (the time it needs to apply what was
 * already written plus the round trip). The smallest lag seen is the round trip alone.
 * <p>
 * Threads: {@link #run} on its own thread (it ends at EOF, ERROR, RESUMED or when the channel is
 * closed); every other method on the sender's or the job's threads. All mutable state is guarded
 * by {@link #lock}, but the send times, which are an atomic array.
 */
public final class ReturnPath implements Runnable {
    /**
     * Where the postcopy messages go once the sender switched to postcopy ({@link #divert}):
     * page requests, the received bitmap, RESUME_READY, POSTCOPY_DONE, and the end of the
     * return path. Called on the reader's thread, outside the lock; must not block.
     */
    public interface PostcopySink {
        /** A postcopy message (or RESUMED, which also reaches the sender's own wait). */
        void message(ReturnMessage m);

        /** The return path ended: {@code why} is the failure, or null after an orderly end. */
        void ended(MigrationException why);
    }

    /** Pass send times kept (a ring): an ack older than this many passes finds its slot reused and is ignored. */
    private static final int RING = 64;

    private final ReadableByteChannel in;
    /** System.nanoTime() when END_OF_PASS of pass p was written, at p % RING; 0 when unknown. */
    private final AtomicLongArray sentAt = new AtomicLongArray(RING);
    /** The pass each slot of {@link #sentAt} belongs to. */
    private final AtomicLongArray sentPass = new AtomicLongArray(RING);

    /** Acknowledged passes whose lags the estimate looks at. */
    static final int LAG_WINDOW = 4;
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled on every message and at the end. */
    private final Condition changed = lock.newCondition();
    /** Highest pass acknowledged; guarded by lock. */
    private long ackedPass;
    /** Lags of the last {@link #LAG_WINDOW} acknowledged passes, ns, newest at lagCount - 1 (mod); guarded by lock. */
    private final long[] lags = new long[LAG_WINDOW];
    /** Lags recorded so far; guarded by lock. */
    private long lagCount;
    /**
     * The index (in recording order) of the first pass's lag, -1 when none: it stops counting once
     * a later pass's lag is known, because the first pass's destination also zeroes every page it
     * writes for the first time (see {@link BandwidthMeter}), which no later pass does; guarded by lock.
     */
    private long firstPassLag = -1;
    /** Whether ACK_COMPLETE came; guarded by lock. */
    private boolean ackComplete;
    /** System.nanoTime() when RESUMED came, 0 before; guarded by lock. */
    private long resumedAt;
    /** Why the return path ended before what the sender waits for (ERROR text, EOF, I/O error); guarded by lock. */
    private MigrationException failure;
    /** Whether {@link #run} ended; guarded by lock. */
    private boolean ended;
    /** The postcopy sink, null in precopy; set once by the sender's thread. */
    private volatile PostcopySink sink;

    public ReturnPath(ReadableByteChannel in) {
        this.in = in;
    }

    /**
     * From now on, hands postcopy messages and the end of the return path to {@code s}, and keeps
     * reading after RESUMED (the destination runs, and asks for pages). Sender's thread, before it
     * sends the first postcopy record.
     */
    public void divert(PostcopySink s) {
        sink = java.util.Objects.requireNonNull(s);
    }

    /** When RESUMED came (System.nanoTime()), 0 before. */
    public long resumedAtNanos() {
        lock.lock();
        try {
            return resumedAt;
        } finally {
            lock.unlock();
        }
    }

    /** The sender wrote END_OF_PASS of {@code pass} at {@code nanos}. */
    void passSent(long pass, long nanos) {
        int slot = (int) (pass % RING);
        sentAt.set(slot, 0);
        sentPass.set(slot, pass);
        sentAt.set(slot, nanos);
    }

    @Override
    public void run() {
        ByteBuffer buf = ByteBuffer.allocate(WireFormat.RECORD_HEADER_SIZE
                + Math.max(WireFormat.MAX_ERROR_MESSAGE, WireFormat.BITMAP_FIXED + 8 * WireFormat.MAX_BITMAP_WORDS));
        try {
            while (true) {
                buf.flip();
                ReturnMessage m;
                while ((m = ReturnDecoder.decode(buf)) != null) {
                    if (handle(m, System.nanoTime())) {
                        return;
                    }
                }
                buf.compact();
                if (in.read(buf) < 0) {
                    end(new MigrationException.ChannelFailed("destination closed the return path before acknowledging "
                            + RecordType.COMPLETE, null));
                    return;
                }
            }
        } catch (IOException e) {
            end(new MigrationException.ChannelFailed("return path from the destination failed: " + e.getMessage(), e));
        } catch (WireFormatException e) {
            end(new MigrationException.ProtocolFailed("bad return path message: " + e.getMessage(), e));
        } finally {
            end(null);
        }
    }

    /** Applies one message; returns whether the return path is over. */
    private boolean handle(ReturnMessage m, long now) {
        PostcopySink s = sink;
        if (s != null && !(m instanceof ReturnMessage.PassAck || m instanceof ReturnMessage.AckComplete)) {
            if (m instanceof ReturnMessage.Resumed) {
                record(m, now);
            }
            s.message(m);
            // ERROR ends the return path; the sink learns it from ended().
            return m instanceof ReturnMessage.Error && record(m, now);
        }
        return record(m, now);
    }

    private boolean record(ReturnMessage m, long now) {
        lock.lock();
        try {
            switch (m) {
                case ReturnMessage.PassAck a -> {
                    int slot = (int) (a.pass() % RING);
                    long sent = sentAt.get(slot);
                    if (sent != 0 && sentPass.get(slot) == a.pass()) {
                        long lag = Math.max(0, now - sent);
                        if (a.pass() == 1) {
                            firstPassLag = lagCount;
                        }
                        lags[(int) (lagCount++ % LAG_WINDOW)] = lag;
                    }
                    ackedPass = Math.max(ackedPass, a.pass());
                }
                case ReturnMessage.AckComplete a -> ackComplete = true;
                case ReturnMessage.Resumed r -> resumedAt = now;
                case ReturnMessage.Error e -> failure = new MigrationException.DestinationFailed(
                        "destination failed the migration: " + e.message());
                default -> { } // postcopy messages without a sink: nothing waits for them
            }
            changed.signalAll();
            return (resumedAt != 0 && sink == null) || failure != null;
        } finally {
            lock.unlock();
        }
    }

    private void end(MigrationException why) {
        MigrationException reported;
        boolean first;
        lock.lock();
        try {
            if (why != null && failure == null && (resumedAt == 0 || sink != null)) {
                failure = why;
            }
            first = !ended;
            ended = true;
            reported = failure;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        PostcopySink s = sink;
        if (s != null && first) {
            s.ended(reported);
        }
    }

    /** The ERROR or channel failure that ended the return path early, or null. */
    MigrationException failure() {
        lock.lock();
        try {
            return ackComplete ? null : failure;
        } finally {
            lock.unlock();
        }
    }

    /**
     * After a write to the destination failed: waits up to {@code timeout} for the return path to
     * say why (the destination's ERROR usually arrives just after it closed the connection).
     *
     * @return the destination's reason (an ERROR it sent, or a return path it could not decode),
     *         or null when none came in time or the return path ended without one
     */
    MigrationException awaitReason(java.time.Duration timeout) throws InterruptedException {
        long left = timeout.toNanos();
        lock.lock();
        try {
            while (failure == null && !ended && left > 0) {
                left = changed.awaitNanos(left);
            }
            return failure instanceof MigrationException.DestinationFailed
                    || failure instanceof MigrationException.ProtocolFailed ? failure : null;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The destination's recent lag: the longest of the last {@value #LAG_WINDOW} passes' lags in
     * ns, -1 before any. The longest, because on busy CPUs one ack in a few waits for a host CPU
     * (seen: 1 ms, then 42 ms for the switchover's ack), and the switchover's may too.
     */
    long lastLagNanos() {
        lock.lock();
        try {
            return recentLag(true);
        } finally {
            lock.unlock();
        }
    }

    /** The round trip: the shortest of the recent lags (an ack with no backlog to apply), in ns, -1 before any. */
    long roundTripNanos() {
        lock.lock();
        try {
            return recentLag(false);
        } finally {
            lock.unlock();
        }
    }

    private long recentLag(boolean longest) {
        if (lagCount == 0) {
            return -1;
        }
        long r = longest ? 0 : Long.MAX_VALUE;
        for (long k = Math.max(0, lagCount - LAG_WINDOW); k < lagCount; k++) {
            if (k == firstPassLag && lagCount > k + 1) {
                continue;
            }
            long lag = lags[(int) (k % LAG_WINDOW)];
            r = longest ? Math.max(r, lag) : Math.min(r, lag);
        }
        return r;
    }

    /** How a wait for a pass ack ended. */
    enum PassAck {
        /** The destination applied the pass. */
        ACKED,
        /** The return path ended or failed: no ack will come (the switchover will report it). */
        ENDED,
        /** No ack in time: the destination lags at least that long. */
        TIMED_OUT
    }

    /**
     * Waits until the destination acknowledged {@code pass}, at most {@code timeout}.
     */
    PassAck awaitPassAck(long pass, java.time.Duration timeout) throws InterruptedException {
        long left = timeout.toNanos();
        lock.lock();
        try {
            while (ackedPass < pass) {
                if (ended || failure != null) {
                    return PassAck.ENDED;
                }
                if (left <= 0) {
                    return PassAck.TIMED_OUT;
                }
                left = changed.awaitNanos(left);
            }
            return PassAck.ACKED;
        } finally {
            lock.unlock();
        }
    }

    /** Waits for ACK_COMPLETE. A cancel closes the channel, which ends the wait with a failure. */
    void awaitAckComplete() throws MigrationException, InterruptedException {
        lock.lock();
        try {
            while (!ackComplete) {
                if (failure != null) {
                    throw failure;
                }
                if (ended) {
                    throw new MigrationException.ChannelFailed("destination closed the return path before acknowledging "
                            + RecordType.COMPLETE, null);
                }
                changed.await();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits up to {@code timeoutNanos} for RESUMED.
     *
     * @return when it came (System.nanoTime()), or 0 when it did not (old destination, closed, timeout)
     */
    long awaitResumed(long timeoutNanos) throws InterruptedException {
        lock.lock();
        try {
            long left = timeoutNanos;
            while (resumedAt == 0 && !ended && left > 0) {
                left = changed.awaitNanos(left);
            }
            return resumedAt;
        } finally {
            lock.unlock();
        }
    }

    /** For tests and logs. */
    @Override
    public String toString() {
        lock.lock();
        try {
            return "ReturnPath[acked=" + ackedPass + ", lag=" + TimeUnit.NANOSECONDS.toMicros(Math.max(0, recentLag(true)))
                    + " us, rtt=" + TimeUnit.NANOSECONDS.toMicros(Math.max(0, recentLag(false))) + " us]";
        } finally {
            lock.unlock();
        }
    }
}
