package dev.converge.migration.machine.kvm;

/**
 * Where the KVM accelerator takes the pages the guest dirtied from: the per-slot bitmap
 * ({@link DirtyBitmaps}) or the per-vCPU rings ({@link DirtyRings}). Either moves them into the
 * RAM blocks' {@link dev.converge.migration.machine.DirtyLog}s and write-protects the pages it
 * took again before returning, so that a page written after it was collected is collected by a
 * later call. Callers serialize the calls.
 */
interface DirtySource {
    /** Collects what was dirtied since the last call; returns the number of pages taken. */
    long collect();

    /** The machine option's name for it: "bitmap" or "ring". */
    String name();
}
