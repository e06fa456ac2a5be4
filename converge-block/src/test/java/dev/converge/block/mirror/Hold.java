package dev.converge.block.mirror;

import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A gate a test node makes its requests wait at (a fault injection in time, like QEMU's blkdebug
 * break points): while held, {@link #pass()} waits until {@link #release()}, and the test sees how
 * many requests wait there now.
 */
final class Hold {
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled under {@link #lock} when a request arrives or leaves, and on release. */
    private final Condition changed = lock.newCondition();
    /** Guarded by {@link #lock}. */
    private boolean held;
    /** Requests waiting now. Guarded by {@link #lock}. */
    private int waiting;

    Hold(boolean held) {
        this.held = held;
    }

    void hold() {
        set(true);
    }

    void release() {
        set(false);
    }

    private void set(boolean h) {
        lock.lock();
        try {
            held = h;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Requests waiting at the hold now. */
    int waiting() {
        lock.lock();
        try {
            return waiting;
        } finally {
            lock.unlock();
        }
    }

    /** Waits while held. */
    void pass() {
        lock.lock();
        try {
            waiting++;
            changed.signalAll();
            while (held) {
                changed.awaitUninterruptibly();
            }
            waiting--;
        } finally {
            lock.unlock();
        }
    }
}
