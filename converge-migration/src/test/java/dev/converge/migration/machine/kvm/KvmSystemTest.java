package dev.converge.migration.machine.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Files;
import org.junit.jupiter.api.Test;

/** What an operator reads when /dev/kvm does not open. */
class KvmSystemTest {
    @Test
    void aHostWithoutKvmIsNamedAsSuch() {
        assumeFalse(Files.exists(KvmSystem.DEVICE), "this host has /dev/kvm: its missing-device error cannot be seen here");
        assertThatThrownBy(KvmSystem::open).isInstanceOfSatisfying(NativeException.class, e -> {
            assertThat(e.errno()).isEqualTo(2);
            assertThat(e.getMessage()).startsWith("accel=kvm: cannot open /dev/kvm: ENOENT (2): this host offers no KVM")
                    .endsWith("use accel=software");
        });
    }

    @Test
    void eachErrnoSaysWhatToDo() {
        assertThat(KvmSystem.whyNot(2)).isEqualTo(KvmSystem.whyNot(19)).isEqualTo(KvmSystem.whyNot(6)).contains("offers no KVM");
        assertThat(KvmSystem.whyNot(13)).isEqualTo(KvmSystem.whyNot(1)).contains("no permission").contains("'kvm'");
        assertThat(KvmSystem.whyNot(16)).contains("another hypervisor");
        assertThat(KvmSystem.whyNot(5)).isEqualTo("see the kernel log");
    }
}
