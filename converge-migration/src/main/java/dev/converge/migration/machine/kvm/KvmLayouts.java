package dev.converge.migration.machine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.invoke.VarHandle;

/**
 * The kernel's KVM structs (linux/kvm.h, asm/kvm.h for x86-64) as FFM layouts, with the
 * kernel's member names and offsets. {@code KvmLayoutsTest} checks sizes and offsets against
 * the values the C compiler gives for the kernel headers.
 */
final class KvmLayouts {
    /** struct kvm_userspace_memory_region. */
    static final GroupLayout USERSPACE_MEMORY_REGION = structLayout(
            JAVA_INT.withName("slot"), JAVA_INT.withName("flags"), JAVA_LONG.withName("guest_phys_addr"),
            JAVA_LONG.withName("memory_size"), JAVA_LONG.withName("userspace_addr")).withName("kvm_userspace_memory_region");

    /** The fixed head of struct kvm_run and its {@code io} exit member (the union starts at 32). */
    static final GroupLayout RUN = structLayout(
            JAVA_BYTE.withName("request_interrupt_window"), JAVA_BYTE.withName("immediate_exit"), paddingLayout(6),
            JAVA_INT.withName("exit_reason"), JAVA_BYTE.withName("ready_for_interrupt_injection"), JAVA_BYTE.withName("if_flag"),
            JAVA_SHORT.withName("flags"), JAVA_LONG.withName("cr8"), JAVA_LONG.withName("apic_base"),
            structLayout(JAVA_BYTE.withName("direction"), JAVA_BYTE.withName("size"), JAVA_SHORT.withName("port"),
                    JAVA_INT.withName("count"), JAVA_LONG.withName("data_offset")).withName("io")).withName("kvm_run");

    /** struct kvm_dirty_log. */
    static final GroupLayout DIRTY_LOG = structLayout(
            JAVA_INT.withName("slot"), JAVA_INT.withName("padding1"), ADDRESS.withName("dirty_bitmap")).withName("kvm_dirty_log");

    /** struct kvm_clear_dirty_log. */
    static final GroupLayout CLEAR_DIRTY_LOG = structLayout(
            JAVA_INT.withName("slot"), JAVA_INT.withName("num_pages"), JAVA_LONG.withName("first_page"),
            ADDRESS.withName("dirty_bitmap")).withName("kvm_clear_dirty_log");

    /** struct kvm_enable_cap. */
    static final GroupLayout ENABLE_CAP = structLayout(
            JAVA_INT.withName("cap"), JAVA_INT.withName("flags"), sequenceLayout(4, JAVA_LONG).withName("args"),
            sequenceLayout(64, JAVA_BYTE).withName("pad")).withName("kvm_enable_cap");

    /** struct kvm_regs: the general registers, rip and rflags. */
    static final GroupLayout REGS = structLayout(
            JAVA_LONG.withName("rax"), JAVA_LONG.withName("rbx"), JAVA_LONG.withName("rcx"), JAVA_LONG.withName("rdx"),
            JAVA_LONG.withName("rsi"), JAVA_LONG.withName("rdi"), JAVA_LONG.withName("rsp"), JAVA_LONG.withName("rbp"),
            JAVA_LONG.withName("r8"), JAVA_LONG.withName("r9"), JAVA_LONG.withName("r10"), JAVA_LONG.withName("r11"),
            JAVA_LONG.withName("r12"), JAVA_LONG.withName("r13"), JAVA_LONG.withName("r14"), JAVA_LONG.withName("r15"),
            JAVA_LONG.withName("rip"), JAVA_LONG.withName("rflags")).withName("kvm_regs");

    /** struct kvm_segment. */
    static final GroupLayout SEGMENT = structLayout(
            JAVA_LONG.withName("base"), JAVA_INT.withName("limit"), JAVA_SHORT.withName("selector"), JAVA_BYTE.withName("type"),
            JAVA_BYTE.withName("present"), JAVA_BYTE.withName("dpl"), JAVA_BYTE.withName("db"), JAVA_BYTE.withName("s"),
            JAVA_BYTE.withName("l"), JAVA_BYTE.withName("g"), JAVA_BYTE.withName("avl"), JAVA_BYTE.withName("unusable"),
            JAVA_BYTE.withName("padding")).withName("kvm_segment");

    /** struct kvm_dtable. */
    static final GroupLayout DTABLE = structLayout(
            JAVA_LONG.withName("base"), JAVA_SHORT.withName("limit"), sequenceLayout(3, JAVA_SHORT).withName("padding")).withName("kvm_dtable");

    /** struct kvm_sregs. */
    static final GroupLayout SREGS = structLayout(
            SEGMENT.withName("cs"), SEGMENT.withName("ds"), SEGMENT.withName("es"), SEGMENT.withName("fs"),
            SEGMENT.withName("gs"), SEGMENT.withName("ss"), SEGMENT.withName("tr"), SEGMENT.withName("ldt"),
            DTABLE.withName("gdt"), DTABLE.withName("idt"),
            JAVA_LONG.withName("cr0"), JAVA_LONG.withName("cr2"), JAVA_LONG.withName("cr3"), JAVA_LONG.withName("cr4"),
            JAVA_LONG.withName("cr8"), JAVA_LONG.withName("efer"), JAVA_LONG.withName("apic_base"),
            sequenceLayout(4, JAVA_LONG).withName("interrupt_bitmap")).withName("kvm_sregs");

    /** struct kvm_msrs: the header before its kvm_msr_entry array. */
    static final GroupLayout MSRS = structLayout(JAVA_INT.withName("nmsrs"), JAVA_INT.withName("pad")).withName("kvm_msrs");

    /** struct kvm_msr_entry. */
    static final GroupLayout MSR_ENTRY = structLayout(
            JAVA_INT.withName("index"), JAVA_INT.withName("reserved"), JAVA_LONG.withName("data")).withName("kvm_msr_entry");

    /** struct kvm_cpuid2: the header before its kvm_cpuid_entry2 array (40 bytes each). */
    static final GroupLayout CPUID2 = structLayout(JAVA_INT.withName("nent"), JAVA_INT.withName("padding")).withName("kvm_cpuid2");
    static final long CPUID_ENTRY2_SIZE = 40;

    /** struct kvm_pit_config. */
    static final GroupLayout PIT_CONFIG = structLayout(
            JAVA_INT.withName("flags"), sequenceLayout(15, JAVA_INT).withName("pad")).withName("kvm_pit_config");

    static final VarHandle RUN_IMMEDIATE_EXIT = RUN.varHandle(groupElement("immediate_exit"));
    static final VarHandle RUN_EXIT_REASON = RUN.varHandle(groupElement("exit_reason"));
    static final VarHandle RUN_IO_DIRECTION = RUN.varHandle(groupElement("io"), groupElement("direction"));
    static final VarHandle RUN_IO_SIZE = RUN.varHandle(groupElement("io"), groupElement("size"));
    static final VarHandle RUN_IO_PORT = RUN.varHandle(groupElement("io"), groupElement("port"));
    static final VarHandle RUN_IO_COUNT = RUN.varHandle(groupElement("io"), groupElement("count"));
    static final VarHandle RUN_IO_DATA_OFFSET = RUN.varHandle(groupElement("io"), groupElement("data_offset"));

    private KvmLayouts() {
    }

    /** Offset of a (possibly nested) member, for tests and for slices. */
    static long offset(MemoryLayout layout, String... path) {
        MemoryLayout.PathElement[] elements = new MemoryLayout.PathElement[path.length];
        for (int i = 0; i < path.length; i++) {
            elements[i] = groupElement(path[i]);
        }
        return layout.byteOffset(elements);
    }
}
