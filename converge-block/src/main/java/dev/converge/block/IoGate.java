package dev.converge.block;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * In-flight accounting and the drain barrier of one node.
 * <p>
 * The request path takes no lock: it increments {@link #inflight}, then reads {@link #quiesce}.
 * A drain increments {@link #quiesce}, then waits for {@link #inflight} to reach zero. Both are
 * sequentially consistent (atomic/volatile), so at least one side sees the other: either the
 * request backs out and waits, or the drain waits for the request. The lock and condition are
 * used only while a drain is in progress.
 */
final class IoGate {
    /** Requests admitted and not yet finished. Atomic; no lock. */
    private final AtomicLong inflight = new AtomicLong();
    /** Open drained sections. Written under {@link #lock}; read without it by the request path. */
    private volatile int quiesce;
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled under {@link #lock} when inflight drops to zero during a drain, and when the last section closes. */
    private final Condition changed = lock.newCondition();
    /** Requests waiting at the entrance of a drained node. Guarded by {@link #lock}. */
    private int waiters;

    /**
     * Admits a request, waiting while the node is drained.
     *
     * @param via  the edge the request came through, or null for a direct request on {@code self}
     * @param self the node this gate belongs to
     * @return false when, after waiting, {@code via} no longer points at {@code self} (the node was
     *         replaced meanwhile): the caller must retry on the edge's new node. Nothing is counted then.
     */
    boolean enter(BlockChild via, BlockNode self) {
        for (;;) {
            inflight.incrementAndGet();
            if (quiesce == 0) {
                // Admitted. A replacement of self can only happen while drained, and a drain now
                // waits for us, so the edge check here is stable until exit().
                if (via != null && via.node() != self) {
                    exit();
                    return false;
                }
                return true;
            }
            exit();
            lock.lock();
            try {
                waiters++;
                while (quiesce > 0) {
                    changed.awaitUninterruptibly();
                }
            } finally {
                waiters--;
                lock.unlock();
            }
        }
    }

    /** Ends an admitted request. */
    void exit() {
        if (inflight.decrementAndGet() == 0 && quiesce > 0) {
            lock.lock();
            try {
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** Opens a drained section: returns once no request is in flight; new ones wait until it closes. */
    DrainedSection drain() {
        lock.lock();
        try {
            quiesce++;
            while (inflight.get() > 0) {
                changed.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
        return new DrainedSection() {
            private boolean closed; // guarded by lock

            @Override
            public void close() {
                lock.lock();
                try {
                    if (!closed) {
                        closed = true;
                        if (--quiesce == 0) {
                            changed.signalAll();
                        }
                    }
                } finally {
                    lock.unlock();
                }
            }
        };
    }

    long inflight() {
        return inflight.get();
    }

    int waiters() {
        lock.lock();
        try {
            return waiters;
        } finally {
            lock.unlock();
        }
    }

    boolean isDrained() {
        return quiesce > 0;
    }
}
