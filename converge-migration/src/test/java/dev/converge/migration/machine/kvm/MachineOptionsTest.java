package dev.converge.migration.machine.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.migration.machine.Accelerator;
import dev.converge.migration.machine.WorkloadKind;
import org.junit.jupiter.api.Test;

class MachineOptionsTest {
    @Test
    void softwareIsTheDefaultAndKeepsItsKeys() {
        MachineOptions o = MachineOptions.parse("memory=64M,vcpus=2,workload=pattern,dirty-rate=1M");
        assertThat(o.accel()).isEqualTo(Accelerator.Kind.SOFTWARE);
        assertThat(o.spec().workload()).isEqualTo(WorkloadKind.PATTERN);
        assertThat(MachineOptions.parse("accel=software,memory=64M,vcpus=2,workload=idle").accel()).isEqualTo(Accelerator.Kind.SOFTWARE);
    }

    @Test
    void kvmTakesGuestAndSerialAndRunsNoWorkload() {
        MachineOptions o = MachineOptions.parse("accel=kvm,memory=64M,vcpus=2,guest=pattern,serial=none");
        assertThat(o.accel()).isEqualTo(Accelerator.Kind.KVM);
        assertThat(o.spec().memory()).isEqualTo(64L << 20);
        assertThat(o.spec().vcpus()).isEqualTo(2);
        assertThat(o.spec().workload()).isEqualTo(WorkloadKind.IDLE);
    }

    @Test
    void dirtyRingSizeIsTakenAsQemuTakesIt() {
        assertThat(MachineOptions.parse("accel=kvm,memory=64M,vcpus=1,dirty-ring-size=0").accel()).isEqualTo(Accelerator.Kind.KVM);
        assertThat(MachineOptions.parse("accel=kvm,memory=64M,vcpus=1,dirty-ring-size=65536").spec().memory()).isEqualTo(64L << 20);
    }

    @Test
    void badOptionsAreRefusedNamingTheKey() {
        assertThatThrownBy(() -> MachineOptions.parse("accel=kvm,memory=64M,vcpus=1,workload=pattern"))
                .hasMessageContaining("key 'workload' is for accel=software");
        assertThatThrownBy(() -> MachineOptions.parse("memory=64M,vcpus=1,workload=idle,guest=pattern"))
                .hasMessageContaining("key 'guest' needs accel=kvm");
        assertThatThrownBy(() -> MachineOptions.parse("accel=xen,memory=64M,vcpus=1")).hasMessageContaining("accel: 'xen' is unknown");
        assertThatThrownBy(() -> MachineOptions.parse("accel=kvm,memory=4G,vcpus=1")).hasMessageContaining("memory: 4294967296");
        assertThatThrownBy(() -> MachineOptions.parse("accel=kvm,memory=64M,vcpus=1,serial=tty")).hasMessageContaining("serial: 'tty'");
        assertThatThrownBy(() -> MachineOptions.parse("accel=kvm,memory=64M,vcpus=1,guest=/nonexistent/guest.bin"))
                .hasMessageContaining("guest: cannot read /nonexistent/guest.bin");
        assertThatThrownBy(() -> MachineOptions.parse("accel=kvm,accel=kvm,memory=64M,vcpus=1")).hasMessageContaining("'accel' given twice");
        for (String bad : new String[] {"1000", "512", "131072", "-1", "many"}) {
            assertThatThrownBy(() -> MachineOptions.parse("accel=kvm,memory=64M,vcpus=1,dirty-ring-size=" + bad))
                    .hasMessage("dirty-ring-size: '" + bad + "' (expected: 0 for the dirty bitmap, or a power of two from 1024 to 65536)");
        }
        assertThatThrownBy(() -> MachineOptions.parse("memory=64M,vcpus=1,workload=idle,dirty-ring-size=4096"))
                .hasMessageContaining("key 'dirty-ring-size' needs accel=kvm");
    }
}
