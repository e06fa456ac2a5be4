package dev.converge.migration.machine.kvm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Sizes and offsets against what the C compiler gives for linux/kvm.h on x86-64. */
class KvmLayoutsTest {
    @Test
    void structSizesMatchTheKernel() {
        assertThat(KvmLayouts.USERSPACE_MEMORY_REGION.byteSize()).isEqualTo(32);
        assertThat(KvmLayouts.DIRTY_LOG.byteSize()).isEqualTo(16);
        assertThat(KvmLayouts.CLEAR_DIRTY_LOG.byteSize()).isEqualTo(24);
        assertThat(KvmLayouts.ENABLE_CAP.byteSize()).isEqualTo(104);
        assertThat(KvmLayouts.REGS.byteSize()).isEqualTo(144);
        assertThat(KvmLayouts.SEGMENT.byteSize()).isEqualTo(24);
        assertThat(KvmLayouts.DTABLE.byteSize()).isEqualTo(16);
        assertThat(KvmLayouts.SREGS.byteSize()).isEqualTo(312);
        assertThat(KvmLayouts.MSRS.byteSize()).isEqualTo(8);
        assertThat(KvmLayouts.MSR_ENTRY.byteSize()).isEqualTo(16);
        assertThat(KvmLayouts.CPUID2.byteSize()).isEqualTo(8);
        assertThat(KvmLayouts.PIT_CONFIG.byteSize()).isEqualTo(64);
    }

    @Test
    void memberOffsetsMatchTheKernel() {
        assertThat(KvmLayouts.offset(KvmLayouts.RUN, "immediate_exit")).isEqualTo(1);
        assertThat(KvmLayouts.offset(KvmLayouts.RUN, "exit_reason")).isEqualTo(8);
        assertThat(KvmLayouts.offset(KvmLayouts.RUN, "io", "direction")).isEqualTo(32);
        assertThat(KvmLayouts.offset(KvmLayouts.RUN, "io", "size")).isEqualTo(33);
        assertThat(KvmLayouts.offset(KvmLayouts.RUN, "io", "port")).isEqualTo(34);
        assertThat(KvmLayouts.offset(KvmLayouts.RUN, "io", "count")).isEqualTo(36);
        assertThat(KvmLayouts.offset(KvmLayouts.RUN, "io", "data_offset")).isEqualTo(40);
        assertThat(KvmLayouts.offset(KvmLayouts.SREGS, "gdt")).isEqualTo(192);
        assertThat(KvmLayouts.offset(KvmLayouts.SREGS, "cr0")).isEqualTo(224);
        assertThat(KvmLayouts.offset(KvmLayouts.SREGS, "efer")).isEqualTo(264);
        assertThat(KvmLayouts.offset(KvmLayouts.SREGS, "apic_base")).isEqualTo(272);
        assertThat(KvmLayouts.offset(KvmLayouts.REGS, "rip")).isEqualTo(128);
        assertThat(KvmLayouts.offset(KvmLayouts.REGS, "rflags")).isEqualTo(136);
        assertThat(KvmLayouts.offset(KvmLayouts.CLEAR_DIRTY_LOG, "num_pages")).isEqualTo(4);
        assertThat(KvmLayouts.offset(KvmLayouts.CLEAR_DIRTY_LOG, "first_page")).isEqualTo(8);
        assertThat(KvmLayouts.offset(KvmLayouts.CLEAR_DIRTY_LOG, "dirty_bitmap")).isEqualTo(16);
        assertThat(KvmLayouts.offset(KvmLayouts.ENABLE_CAP, "args")).isEqualTo(8);
    }
}
