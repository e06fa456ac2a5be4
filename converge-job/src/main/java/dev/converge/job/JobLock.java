package dev.converge.job;

import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine's one job lock (QEMU's job_mutex) together with its ordered outbox of events.
 *
 * <h2>The lock contract</h2>
 * The lock guards every generic job field. No driver hook and no listener method ever runs
 * while it is held: code under the lock only changes state and {@linkplain #post posts} the
 * events the change causes into the outbox. Because every post happens under the lock, the
 * outbox holds the events of all jobs in one total order, the order of the changes.
 * <p>
 * The thread whose {@link #unlock()} releases the lock entirely then delivers the outbox, in
 * order, one event at a time, while holding only the <em>delivery lock</em>, which serializes
 * deliveries so that two threads never deliver at once and the total order is kept. A thread
 * that finds another one delivering waits for it and then delivers what is left; so when an
 * engine method returns, every event it caused has been delivered to every listener (a verb's
 * JOB_STATUS_CHANGE therefore still precedes its QMP reply). Listeners may read the engine
 * (e.g. {@link JobEngine#query(Job)}); events caused by an engine call made from inside a
 * listener are delivered after the current event reached every listener, by the same thread,
 * before the outermost delivery returns.
 * <p>
 * A thread must not wait for another thread to deliver while it holds a lock that a listener
 * (or {@link JobDriver#info()}, which listeners may cause) takes: deliveries run on whichever
 * thread released the job lock.
 */
final class JobLock {
    private static final Logger LOG = LoggerFactory.getLogger(JobLock.class);

    private final ReentrantLock lock = new ReentrantLock();
    /** Serializes delivery; never taken while {@link #lock} is held. */
    private final ReentrantLock delivery = new ReentrantLock();
    /** Events posted and not yet delivered, in the order of the changes; guarded by {@link #lock}. */
    private final Queue<Runnable> outbox = new ArrayDeque<>();

    void lock() {
        lock.lock();
    }

    /**
     * Releases the lock; when this thread no longer holds it, delivers the outbox (see the
     * class doc). Must be called in a {@code finally} after {@link #lock()}.
     */
    void unlock() {
        boolean pending = !outbox.isEmpty();
        lock.unlock();
        if (pending && !lock.isHeldByCurrentThread()) {
            deliver();
        }
    }

    boolean isHeldByCurrentThread() {
        return lock.isHeldByCurrentThread();
    }

    Condition newCondition() {
        return lock.newCondition();
    }

    /** Queues an event for delivery after the lock is released. Under the lock. */
    void post(Runnable event) {
        assert lock.isHeldByCurrentThread();
        outbox.add(event);
    }

    /**
     * Delivers the outbox in order. A nested call (a listener that caused new events) returns
     * at once: the outer loop of the same thread delivers them next, so that no listener sees a
     * later event before every listener saw the current one.
     */
    private void deliver() {
        if (delivery.isHeldByCurrentThread()) {
            return;
        }
        delivery.lock();
        try {
            for (;;) {
                Runnable next;
                lock.lock();
                try {
                    next = outbox.poll();
                } finally {
                    lock.unlock(); // the raw lock: this loop is the delivery
                }
                if (next == null) {
                    return;
                }
                try {
                    next.run();
                } catch (RuntimeException e) {
                    // One broken listener must not keep the others (or later events) from being told.
                    LOG.error("job listener failed (listener bug)", e);
                }
            }
        } finally {
            delivery.unlock();
        }
    }
}
