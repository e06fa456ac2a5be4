package dev.converge.migration.machine.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The ioctl numbers against what the C compiler makes of linux/kvm.h (x86-64, kernel 6.x headers). */
class IoctlTest {
    @Test
    void formulasMatchTheKernelMacros() {
        assertThat(Ioctl.io(0xAE, 0x00)).isEqualTo(0xae00L);
        assertThat(Ioctl.ior(0xAE, 0x81, 144)).isEqualTo(0x8090ae81L);
        assertThat(Ioctl.iow(0xAE, 0x82, 144)).isEqualTo(0x4090ae82L);
        assertThat(Ioctl.iowr(0xAE, 0x02, 4)).isEqualTo(0xc004ae02L);
        assertThatThrownBy(() -> Ioctl.ioc(1, 0xAE, 0x100, 0)).hasMessageContaining("nr 256");
        assertThatThrownBy(() -> Ioctl.ioc(1, 0xAE, 1, 1 << 14)).hasMessageContaining("size 16384");
    }

    @Test
    void kvmRequestNumbersMatchLinuxKvmH() {
        long[][] vectors = {
            {Kvm.GET_API_VERSION, 0xae00L}, {Kvm.CREATE_VM, 0xae01L}, {Kvm.GET_MSR_INDEX_LIST, 0xc004ae02L},
            {Kvm.CHECK_EXTENSION, 0xae03L}, {Kvm.GET_VCPU_MMAP_SIZE, 0xae04L}, {Kvm.GET_SUPPORTED_CPUID, 0xc008ae05L},
            {Kvm.CREATE_VCPU, 0xae41L}, {Kvm.GET_DIRTY_LOG, 0x4010ae42L}, {Kvm.SET_USER_MEMORY_REGION, 0x4020ae46L},
            {Kvm.SET_TSS_ADDR, 0xae47L}, {Kvm.SET_IDENTITY_MAP_ADDR, 0x4008ae48L}, {Kvm.CREATE_IRQCHIP, 0xae60L},
            {Kvm.CREATE_PIT2, 0x4040ae77L}, {Kvm.RUN, 0xae80L}, {Kvm.GET_REGS, 0x8090ae81L}, {Kvm.SET_REGS, 0x4090ae82L},
            {Kvm.GET_SREGS, 0x8138ae83L}, {Kvm.SET_SREGS, 0x4138ae84L}, {Kvm.GET_MSRS, 0xc008ae88L}, {Kvm.SET_MSRS, 0x4008ae89L},
            {Kvm.SET_SIGNAL_MASK, 0x4004ae8bL}, {Kvm.GET_FPU, 0x81a0ae8cL}, {Kvm.SET_FPU, 0x41a0ae8dL},
            {Kvm.GET_LAPIC, 0x8400ae8eL}, {Kvm.SET_LAPIC, 0x4400ae8fL}, {Kvm.SET_CPUID2, 0x4008ae90L},
            {Kvm.GET_MP_STATE, 0x8004ae98L}, {Kvm.SET_MP_STATE, 0x4004ae99L}, {Kvm.GET_VCPU_EVENTS, 0x8040ae9fL},
            {Kvm.SET_VCPU_EVENTS, 0x4040aea0L}, {Kvm.GET_DEBUGREGS, 0x8080aea1L}, {Kvm.SET_DEBUGREGS, 0x4080aea2L},
            {Kvm.ENABLE_CAP, 0x4068aea3L}, {Kvm.GET_XSAVE, 0x9000aea4L}, {Kvm.SET_XSAVE, 0x5000aea5L},
            {Kvm.GET_XCRS, 0x8188aea6L}, {Kvm.SET_XCRS, 0x4188aea7L}, {Kvm.GET_CLOCK, 0x8030ae7cL}, {Kvm.SET_CLOCK, 0x4030ae7bL},
            {Kvm.GET_IRQCHIP, 0xc208ae62L}, {Kvm.SET_IRQCHIP, 0x8208ae63L}, {Kvm.GET_PIT2, 0x8070ae9fL},
            {Kvm.SET_PIT2, 0x4070aea0L}, {Kvm.CLEAR_DIRTY_LOG, 0xc018aec0L},
            {Kvm.RESET_DIRTY_RINGS, 0xaec7L},
        };
        for (long[] v : vectors) {
            assertThat(Long.toHexString(v[0])).isEqualTo(Long.toHexString(v[1]));
        }
    }
}
