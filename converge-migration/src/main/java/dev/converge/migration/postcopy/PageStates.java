package dev.converge.migration.postcopy;

import dev.converge.migration.machine.GuestPageWait;
import dev.converge.migration.machine.PageGate;
import dev.converge.migration.machine.RamBlock;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A postcopy destination's state of every page, one byte each: {@link #MISSING} (stale or
 * absent: the source still has to send it), {@link #REQUESTED} (a vCPU waits for it and asked
 * the source) or {@link #RECEIVED}. Every page starts received (what precopy delivered is
 * current); the source's discard list marks the stale ones missing before the guest runs.
 * <p>
 * The guest access path ({@link #gate}) reads the page's byte with acquire semantics and returns
 * at once when it is received; otherwise the first vCPU to touch it moves it to requested and
 * sends the request (through the {@link Requester}, on the vCPU's own thread), and every vCPU
 * that touches it waits until the receiving thread {@link #arrived stores} it. The loader copies the
 * page before it publishes received (release), so a vCPU that sees received sees the data; a
 * page already received is never loaded again (a duplicate after recovery is dropped).
 * <p>
 * Threads: vCPUs in {@link #gate}; the receiving thread in {@link #markMissing}, {@link #needs},
 * {@link #arrived}; anyone in the counters. The waiting uses one lock and condition: a vCPU
 * counts itself in {@link #waiters} under the lock before it re-reads the state, and the loader
 * writes the state before it reads {@link #waiters} (both volatile), so no wake-up is lost.
 */
public final class PageStates {
    /** The source still has to send the page. */
    public static final byte MISSING = 0;
    /** A vCPU waits for the page and asked the source for it. */
    public static final byte REQUESTED = 1;
    /** The page holds its migrated contents. */
    public static final byte RECEIVED = 2;

    private static final VarHandle STATE = MethodHandles.arrayElementVarHandle(byte[].class);

    /** Sends a page request to the source (a vCPU's thread; must not block for long, may drop it while paused). */
    @FunctionalInterface
    public interface Requester {
        void request(int block, long page);
    }

    private final byte[][] states;
    private final Requester requester;
    private final AtomicLong missing = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    private final LatencyRecorder latency = new LatencyRecorder();
    private final Blocktime blocktime;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrivedCondition = lock.newCondition();
    /** vCPUs waiting for some page; changed under {@link #lock}, read by the loader without it. */
    private volatile int waiters;
    /** Why no page will ever arrive any more, or null; set once. */
    private volatile String abandoned;

    /** Every page of {@code blocks} received; the machine has {@code vcpus} vCPUs (for the blocktime). */
    public PageStates(List<RamBlock> blocks, int vcpus, Requester requester) {
        this.requester = requester;
        this.blocktime = new Blocktime(vcpus);
        states = new byte[blocks.size()][];
        for (int b = 0; b < states.length; b++) {
            states[b] = new byte[Math.toIntExact(blocks.get(b).pages())];
            java.util.Arrays.fill(states[b], RECEIVED);
        }
    }

    /**
     * Marks the pages of a discard bitmap missing. Receiving thread, before the guest runs here:
     * plain writes (the vCPUs' start publishes them), because a discard list of a large guest
     * has hundreds of thousands of pages and this runs inside the downtime.
     */
    public void markMissing(int block, long firstPage, long[] words) {
        byte[] s = states[block];
        long added = 0;
        for (int w = 0; w < words.length; w++) {
            long bits = words[w];
            while (bits != 0) {
                long page = firstPage + 64L * w + Long.numberOfTrailingZeros(bits);
                bits &= bits - 1;
                if (page < s.length && s[(int) page] == RECEIVED) {
                    s[(int) page] = MISSING;
                    added++;
                }
            }
        }
        missing.addAndGet(added);
    }

    /** Whether page {@code page} of {@code block} still has to be loaded. Receiving thread. */
    public boolean needs(int block, long page) {
        return (byte) STATE.getVolatile(states[block], (int) page) != RECEIVED;
    }

    /** The page was loaded: waiting vCPUs go on. Receiving thread, after the copy. */
    public void arrived(int block, long page) {
        byte before = (byte) STATE.getAndSet(states[block], (int) page, RECEIVED);
        if (before == RECEIVED) {
            return;
        }
        missing.decrementAndGet();
        if (before == REQUESTED || waiters > 0) {
            lock.lock();
            try {
                arrivedCondition.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** Pages still missing or requested. */
    public long missing() {
        return missing.get();
    }

    /** Threads waiting for a page now. */
    public int waiting() {
        return waiters;
    }

    /** Page requests the vCPUs sent. */
    public long requests() {
        return requests.get();
    }

    /** The latency of every wait for a page: from the access to the page's arrival. */
    public LatencyRecorder latency() {
        return latency;
    }

    /** The waits by thread: per vCPU, the others, and the time all vCPUs were blocked. */
    public Blocktime blocktime() {
        return blocktime;
    }

    /** The gate of block {@code block}, for {@link RamBlock#setPageGate}. */
    public PageGate gate(int block) {
        byte[] s = states[block];
        return page -> {
            if ((byte) STATE.getAcquire(s, (int) page) != RECEIVED) {
                // A vCPU parks meanwhile (stop returns) and after the arrival goes on only while running.
                GuestPageWait.run(() -> await(block, s, page));
            }
        };
    }

    private void await(int block, byte[] s, long page) {
        long t0 = System.nanoTime();
        int vcpu = GuestPageWait.vcpuIndex();
        blocktime.begin(vcpu, t0);
        try {
            awaitArrival(block, s, page);
            latency.record(System.nanoTime() - t0);
        } finally {
            blocktime.end(vcpu, t0, System.nanoTime());
        }
    }

    private void awaitArrival(int block, byte[] s, long page) {
        if (STATE.compareAndSet(s, (int) page, MISSING, REQUESTED)) {
            requests.incrementAndGet();
            requester.request(block, page);
        }
        lock.lock();
        try {
            waiters++;
            try {
                while ((byte) STATE.getVolatile(s, (int) page) != RECEIVED) {
                    String why = abandoned;
                    if (why != null) {
                        throw new IllegalStateException("guest page " + page + " of block " + block + " will never arrive: " + why);
                    }
                    arrivedCondition.awaitUninterruptibly();
                }
            } finally {
                waiters--;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Pages in state requested, as (block, page) pairs: asked again on a recovered connection. */
    public List<long[]> requested() {
        List<long[]> out = new ArrayList<>();
        for (int b = 0; b < states.length; b++) {
            byte[] s = states[b];
            for (int p = 0; p < s.length; p++) {
                if ((byte) STATE.getVolatile(s, p) == REQUESTED) {
                    out.add(new long[] {b, p});
                }
            }
        }
        return out;
    }

    /** Number of blocks. */
    public int blocks() {
        return states.length;
    }

    /** Pages of {@code block}. */
    public long pages(int block) {
        return states[block].length;
    }

    /** The received bitmap of {@code block} from page {@code firstPage} (a multiple of 64), {@code count} words. */
    public long[] receivedWords(int block, long firstPage, int count) {
        byte[] s = states[block];
        long[] words = new long[count];
        for (int w = 0; w < count; w++) {
            long bits = 0;
            for (int i = 0; i < 64; i++) {
                long page = firstPage + 64L * w + i;
                if (page < s.length && (byte) STATE.getVolatile(s, (int) page) == RECEIVED) {
                    bits |= 1L << i;
                }
            }
            words[w] = bits;
        }
        return words;
    }

    /**
     * No page will arrive any more ({@code why}): every vCPU waiting for one, and every later
     * access to a missing page, fails with it (the vCPU stops), so that the machine can be shut down.
     */
    public void abandon(String why) {
        abandoned = why;
        lock.lock();
        try {
            arrivedCondition.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
