package dev.converge.migration.machine.kvm;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * When guest RAM asks for transparent huge pages (MADV_HUGEPAGE, where the kernel's THP setting
 * is {@code madvise}): a machine that boots asks at once, as QEMU does for its RAM; an incoming
 * destination only once the incoming state is loaded, i.e. once all of RAM has arrived (QEMU's
 * destination does the same around postcopy, MADV_NOHUGEPAGE while pages arrive).
 * <p>
 * Why: the incoming stream writes every page of a destination's RAM for the first time, and a
 * huge-page fault zeroes 2 MiB in the receiving thread before a single 4 KiB page of it can be
 * copied in. Where the host gives its free memory back to a hypervisor beneath (free page
 * reporting, as on this project's machines), a fresh 2 MiB block is cold there too, and the
 * receiver spent 85 % of the first pass in {@code clear_page_erms} (perf over
 * {@code bin/bench kvm-migration}, 512 MiB; docs/benchmarks.md). Asked for
 * afterwards, khugepaged folds the running guest's RAM into huge pages in the background.
 * Best effort either way: EINVAL where THP is off changes nothing.
 * <p>
 * A destination asks from a thread of its own: the advice walks every mapping of guest RAM
 * (1-2 ms for 2 GiB here), and the state is loaded inside the switchover's downtime, which
 * need not wait for a hint about the future.
 */
final class HugePages {
    private final List<MemorySegment> ram;
    /** Whether the advice is still owed (a destination before its state is loaded); written by the thread that loads the state. */
    private volatile boolean pending;
    /** The thread giving a destination's advice, null before; written by the thread that loads the state, joined by close. */
    private volatile Thread adviser;
    /** The adviser's work, linked here rather than at its first use inside a switchover's downtime. */
    private final Runnable advice = this::advise;

    HugePages(List<MemorySegment> ram, boolean incoming) {
        this.ram = ram;
        this.pending = incoming;
        if (!incoming) {
            advise();
        }
    }

    /**
     * The incoming state is loaded: all of RAM arrived, from here on huge pages are worth it
     * (once). The advice is given by a thread of its own; this returns at once.
     */
    void incomingLoaded() {
        if (pending) {
            pending = false;
            adviser = Thread.ofVirtual().name("huge-page-advice").start(advice);
        }
    }

    /** Waits for a destination's advice to be given: before guest RAM is unmapped. */
    void close() throws InterruptedException {
        Thread t = adviser;
        if (t != null) {
            t.join();
        }
    }

    private void advise() {
        for (MemorySegment m : ram) {
            LibC.madvise(m, LibC.MADV_HUGEPAGE);
        }
    }
}
