package dev.converge.migration.machine.kvm;

import dev.converge.migration.machine.RamBlock;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The kernel's dirty bitmap under manual protection (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2):
 * KVM_GET_DIRTY_LOG of each slot, then KVM_CLEAR_DIRTY_LOG of exactly the pages taken, which
 * write-protects them again (pages dirtied between the two stay writable and set in the next
 * bitmap). Costs a pass over every slot's bitmap per call, whatever was dirtied.
 */
final class DirtyBitmaps implements DirtySource {
    private final KvmVm vm;
    /** The slots, index = slot id, and the blocks they map. */
    private final List<RamBlock> slots;

    DirtyBitmaps(KvmVm vm, List<RamBlock> slots) {
        this.vm = vm;
        this.slots = slots;
    }

    @Override
    public long collect() {
        long newly = 0;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment getArg = a.allocate(KvmLayouts.DIRTY_LOG);
            MemorySegment clearArg = a.allocate(KvmLayouts.CLEAR_DIRTY_LOG);
            for (int slot = 0; slot < slots.size(); slot++) {
                RamBlock b = slots.get(slot);
                int words = (int) ((b.pages() + 63) >>> 6);
                MemorySegment bitmap = a.allocate(8L * words, 8);
                bitmap.fill((byte) 0);
                vm.getDirtyLog(slot, bitmap, getArg);
                long[] bits = bitmap.toArray(ValueLayout.JAVA_LONG);
                long count = 0;
                for (long w : bits) {
                    count += Long.bitCount(w);
                }
                if (count == 0) {
                    continue;
                }
                newly += count;
                vm.clearDirtyLog(slot, 0, (int) b.pages(), bitmap, clearArg);
                b.dirtyLog().markWords(0, bits, bits.length);
            }
        }
        return newly;
    }

    @Override
    public String name() {
        return "bitmap";
    }
}
