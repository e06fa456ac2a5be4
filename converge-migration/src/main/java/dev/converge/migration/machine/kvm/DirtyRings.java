package dev.converge.migration.machine.kvm;

import dev.converge.migration.machine.RamBlock;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The kernel's dirty rings (KVM_CAP_DIRTY_LOG_RING): each vCPU publishes the pages it dirties
 * into a ring of {@code struct kvm_dirty_gfn} shared with user space (mapped from its file at
 * page {@link Kvm#DIRTY_LOG_PAGE_OFFSET}). {@link #collect} walks every ring from where it last
 * stopped, takes each entry the kernel flagged DIRTY, flags it RESET, and then
 * KVM_RESET_DIRTY_RINGS write-protects the harvested pages again. The cost follows what was
 * dirtied, not the size of memory. A vCPU whose ring is nearly full leaves the guest
 * (KVM_EXIT_DIRTY_RING_FULL) and must not re-enter before its ring was collected.
 * <p>
 * The kernel only asks a vCPU to leave once its ring is nearly full, at its next entry; on this
 * kind of host (KVM with PVM, no hardware virtualization) the guest's write faults do not pass
 * that check, and a vCPU was seen to fill its ring completely, after which the kernel overwrites
 * entries (pages lost) and its indexes and ours part. So the ring must never get near full:
 * {@link KvmAccelerator} collects it every few milliseconds while the vCPUs run (a reaper, as
 * QEMU has), and a vCPU that reports a full ring twice with nothing taken from it in between fails
 * loudly instead of spinning.
 * <p>
 * The flags are read with acquire and written with release semantics: the kernel writes
 * slot and offset before it sets DIRTY, and reads RESET only once user space is done with the
 * entry. Callers serialize {@link #collect}; the fetch indexes belong to it.
 */
final class DirtyRings implements DirtySource {
    /** kvm_dirty_gfn.flags, with coordinates (ring, byte offset). */
    private static final java.lang.invoke.VarHandle FLAGS = ValueLayout.JAVA_INT.varHandle();

    private final KvmVm vm;
    /** The slots, index = slot id, and the blocks they map. */
    private final List<RamBlock> slots;
    /** One ring per vCPU. */
    private final List<MemorySegment> rings;
    private final int entries;
    /** Next entry to look at in each ring (counts up; the index is it modulo {@link #entries}); confined to collect's caller. */
    private final long[] fetch;
    /** Entries ever taken from each ring; confined to collect's caller. */
    private final long[] taken;

    /**
     * @param rings   each vCPU's mapped ring of {@code entries} entries (a power of two)
     */
    DirtyRings(KvmVm vm, List<RamBlock> slots, List<MemorySegment> rings, int entries) {
        if (Integer.bitCount(entries) != 1) {
            throw new IllegalArgumentException("dirty ring entries: " + entries + " (expected: a power of two)");
        }
        this.vm = vm;
        this.slots = slots;
        this.rings = rings;
        this.entries = entries;
        this.fetch = new long[rings.size()];
        this.taken = new long[rings.size()];
    }

    @Override
    public long collect() {
        long taken = 0;
        for (int i = 0; i < rings.size(); i++) {
            taken += harvest(i);
        }
        if (taken > 0) {
            vm.resetDirtyRings();
        }
        return taken;
    }

    private long harvest(int vcpu) {
        MemorySegment ring = rings.get(vcpu);
        long next = fetch[vcpu];
        long taken = 0;
        while (true) {
            long at = (next & (entries - 1)) * Kvm.DIRTY_GFN_SIZE;
            int flags = (int) FLAGS.getAcquire(ring, at);
            if ((flags & Kvm.DIRTY_GFN_F_DIRTY) == 0) {
                break;
            }
            int slot = ring.get(ValueLayout.JAVA_INT, at + 4) & 0xffff; // address space 0: the upper half is 0
            long page = ring.get(ValueLayout.JAVA_LONG, at + 8);
            if (slot < slots.size() && page >= 0 && page < slots.get(slot).pages()) {
                slots.get(slot).dirtyLog().mark(page);
            }
            FLAGS.setRelease(ring, at, Kvm.DIRTY_GFN_F_RESET);
            next++;
            taken++;
        }
        this.taken[vcpu] += next - fetch[vcpu];
        fetch[vcpu] = next;
        return taken;
    }

    /** Entries ever taken from vCPU {@code vcpu}'s ring (by any caller of collect). */
    long takenFrom(int vcpu) {
        return taken[vcpu];
    }

    @Override
    public String name() {
        return "ring";
    }
}
