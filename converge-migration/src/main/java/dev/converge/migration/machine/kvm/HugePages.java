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
 */
final class HugePages {
    private final List<MemorySegment> ram;
    /** Whether the advice is still owed (a destination before its state is loaded); written by the thread that loads the state. */
    private volatile boolean pending;

    HugePages(List<MemorySegment> ram, boolean incoming) {
        this.ram = ram;
        this.pending = incoming;
        if (!incoming) {
            advise();
        }
    }

    /** The incoming state is loaded: all of RAM arrived, from here on huge pages are worth it (once). */
    void incomingLoaded() {
        if (pending) {
            pending = false;
            advise();
        }
    }

    private void advise() {
        for (MemorySegment m : ram) {
            LibC.madvise(m, LibC.MADV_HUGEPAGE);
        }
    }
}
