package dev.converge.block.mirror;

import dev.converge.block.BlockIOException;
import dev.converge.block.BlockNode;
import dev.converge.block.WriteFilterNode;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Who writes the mirror's target next: the guest's writes (write-blocking mode) before the copy
 * operations.
 *
 * <p>Into a target that writes into the host page cache every write takes the file's inode lock,
 * so a guest write queues behind whatever copy holds it. Measured (issue 13, write-blocking, 2
 * CPUs): with copies writing 1 MiB at a time, each one right after the other, the kernel's lock
 * went from copy to copy (a running thread takes a released lock before a woken waiter) and a
 * guest write waited behind several of them: 40-120 guest writes per 250 ms instead of 200. So
 * for such a target:
 * <ul>
 * <li>copies write one at a time (a fair lane; they still read in parallel): sixteen copies
 *     queued at the inode lock put a guest write behind all of them;</li>
 * <li>a copy writes in pieces of {@link #PIECE} bytes, and starts a piece only while no guest
 *     write to the target is in progress: a guest write waits at most for the piece that is
 *     being written when it arrives;</li>
 * <li>a guest write never waits here; a copy waits for the guest at most {@link #MAX_YIELD} per
 *     piece, so the mirror still progresses under a guest that writes without pause.</li>
 * </ul>
 * Copies made in the kernel (copy_file_range: source and target are host files) read inside
 * their turn, so they take {@link #KERNEL_COPY_LANES} lanes: one reads while the other writes.
 * A target outside the page cache (NBD, O_DIRECT) takes {@code parallel} copies at once, whole,
 * and copies never yield: its writes do not share a lock with the guest's.
 */
final class TargetTurns {
    /** The largest piece a copy writes into a page-cache target at once. */
    static final int PIECE = 128 << 10;
    /**
     * Lanes into a page-cache target when the copies run in the kernel: copy_file_range reads the
     * source and writes the target in one call, so with one lane the second CPU idles while the copy
     * reads; with two, one copy reads while the other writes. A guest write to the target then
     * waits at most for the two pieces being written when it arrives.
     */
    static final int KERNEL_COPY_LANES = 2;
    /** How long a copy's piece waits for guest writes at most. */
    static final Duration MAX_YIELD = Duration.ofMillis(20);

    /** One piece of a copy's write: the copy's bytes for [offset, offset + length) go to the target. */
    @FunctionalInterface
    interface PieceWrite {
        void write(long offset, long length) throws BlockIOException;
    }

    private final boolean guestFirst;
    private final Semaphore lanes;
    private final int lanesTotal;
    private final long maxYieldNanos;
    /** Guest writes to the target in progress. */
    private final AtomicInteger guestWrites = new AtomicInteger();
    /** Copies waiting for {@link #guestWrites} to drop to 0. */
    private final AtomicInteger yielding = new AtomicInteger();
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled under {@link #lock} when the last guest write to the target ended. */
    private final Condition guestsDone = lock.newCondition();

    /**
     * The turns for copies into {@code target}: into the page cache one lane, or
     * {@link #KERNEL_COPY_LANES} where the copies are made in the kernel (copy_file_range: the
     * source reads as a host file and the target takes such copies), and pieces after the guest;
     * elsewhere {@code parallel} lanes, whole writes.
     */
    static TargetTurns forTarget(BlockNode target, boolean sourceReadsAsHostFile, int parallel) {
        if (!target.writesIntoHostPageCache()) {
            return new TargetTurns(false, parallel, MAX_YIELD);
        }
        boolean inKernel = sourceReadsAsHostFile && target.writesFromHostFiles();
        return new TargetTurns(true, inKernel ? KERNEL_COPY_LANES : 1, MAX_YIELD);
    }

    /**
     * @param guestFirst whether copies write in pieces after the guest's writes (a page-cache target)
     * @param lanes      copies that may write at once
     * @param maxYield   how long a copy's piece waits for guest writes at most (tests choose)
     */
    TargetTurns(boolean guestFirst, int lanes, Duration maxYield) {
        this.guestFirst = guestFirst;
        this.lanes = new Semaphore(lanes, true);
        this.lanesTotal = lanes;
        this.maxYieldNanos = maxYield.toNanos();
    }

    /**
     * A copy's data write of [offset, offset + length) (from a buffer, or a host file copied in the
     * kernel): in a lane, piece by piece after the guest.
     */
    void copyWrite(long offset, long length, PieceWrite write) throws BlockIOException {
        lanes.acquireUninterruptibly();
        try {
            if (!guestFirst) {
                write.write(offset, length);
                return;
            }
            for (long done = 0; done < length; done += PIECE) {
                long n = Math.min(PIECE, length - done);
                yieldToGuest();
                write.write(offset + done, n);
            }
        } finally {
            lanes.release();
        }
    }

    /** A copy's other write (write-zeroes): in a lane, after the guest. */
    void copyWrite(WriteFilterNode.ChildWrite write) throws BlockIOException {
        lanes.acquireUninterruptibly();
        try {
            if (guestFirst) {
                yieldToGuest();
            }
            write.run();
        } finally {
            lanes.release();
        }
    }

    /** A guest's write to the target: never waits here; copies hold back their next piece meanwhile. */
    void guestWrite(WriteFilterNode.ChildWrite write) throws BlockIOException {
        guestWrites.incrementAndGet();
        try {
            write.run();
        } finally {
            // A copy counts itself in yielding before it reads guestWrites: it sees this write
            // end or is signalled (under the lock, which it holds until it waits).
            if (guestWrites.decrementAndGet() == 0 && yielding.get() > 0) {
                lock.lock();
                try {
                    guestsDone.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    /** Copies that may write at once (for tests). */
    int lanes() {
        return lanesTotal;
    }

    /** Copies waiting to write now (for tests). */
    int copiesWaiting() {
        return lanes.getQueueLength() + yielding.get();
    }

    private void yieldToGuest() {
        if (guestWrites.get() == 0) {
            return;
        }
        lock.lock();
        yielding.incrementAndGet();
        try {
            long nanos = maxYieldNanos;
            while (guestWrites.get() > 0 && nanos > 0) {
                nanos = guestsDone.awaitNanos(nanos);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the copy goes on; its thread's owner sees the flag
        } finally {
            yielding.decrementAndGet();
            lock.unlock();
        }
    }
}
