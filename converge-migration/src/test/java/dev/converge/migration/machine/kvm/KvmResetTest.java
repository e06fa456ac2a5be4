package dev.converge.migration.machine.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.converge.migration.machine.GuestActions;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.machine.ShutdownCause;
import dev.converge.migration.machine.WorkloadKind;
import dev.converge.qmp.QmpException;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest that triple-faults on purpose: QEMU's reboot action on KVM_EXIT_SHUTDOWN (reset by
 * default, shutdown with reboot=shutdown), and system_reset. Needs /dev/kvm.
 */
@RequiresKvm
class KvmResetTest {
    /**
     * Boots at 0x7c00, counts its boots in the byte at 0x500 (RAM outlives a reset, as on a PC),
     * writes the count as a digit to the serial port, and on its first boot switches to flat
     * 32-bit protected mode, loads an empty IDT and executes ud2: #UD cannot be delivered, nor the
     * #GP and #DF that follow, so the CPU shuts down (a triple fault, KVM_EXIT_SHUTDOWN). From its
     * second boot on it halts. (Real mode is no good for this: KVM's real-mode emulation does not
     * check the IVT limit.) Assembled from:
     * <pre>
     *         .code16
     * start:  cli; xorw %ax,%ax; movw %ax,%ds; incb 0x500
     *         movw $0x3f8,%dx; movb 0x500,%al; addb $'0',%al; outb %al,%dx
     *         cmpb $2,0x500; jae halt
     *         lgdtl gdt_desc; movl %cr0,%eax; orl $1,%eax; movl %eax,%cr0; ljmpl $0x08,$flat
     * halt:   hlt; jmp halt
     *         .code32
     * flat:   movw $0x10,%ax; movw %ax,%ds; lidt idt_desc; ud2
     *         .p2align 3
     * gdt:    .quad 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
     * gdt_desc: .word 23; .long gdt
     * idt_desc: .word 0; .long 0
     * </pre>
     * (as --32; ld -m elf_i386 -Ttext=0x7c00; objcopy -O binary -j .text)
     */
    static final String TRIPLE_FAULT_ONCE = "fa31c08ed8fe060005baf803a000050430ee803e0005027318660f0116607c0f20c06683c8010f22c066ea347c"
            + "00000800f4ebfd66b810008ed80f011d667c00000f0b8d742600900000000000000000ffff0000009acf00ffff00000092cf001700487c"
            + "0000000000000000";
    private static final long BOOTS_AT = 0x500;

    @TempDir
    Path dir;

    /** What the machine announced. */
    private final List<String> events = new CopyOnWriteArrayList<>();

    private Machine boot(GuestActions actions, Path serial) throws IOException {
        Path guest = dir.resolve("triple-fault.bin");
        Files.write(guest, HexFormat.of().parseHex(TRIPLE_FAULT_ONCE));
        Machine m = Machine.create("t", MachineSpec.of(KvmMachineTest.MEMORY, 1, WorkloadKind.IDLE), RunState.PRELAUNCH,
                KvmAccelerator.factory(KvmGuest.file(guest), SerialSink.file(serial)), actions);
        m.setRunStateListener(new Machine.RunStateListener() {
            @Override
            public void resuming() {
                events.add("RESUME");
            }

            @Override
            public void stopped() {
                events.add("STOP");
            }

            @Override
            public void reset(ShutdownCause cause) {
                events.add("RESET " + cause.guest() + " " + cause.wireName());
            }

            @Override
            public void shutdown(ShutdownCause cause) {
                events.add("SHUTDOWN " + cause.guest() + " " + cause.wireName());
            }
        });
        return m;
    }

    private static int boots(Machine m) {
        return m.ram().block(Machine.RAM_BLOCK).orElseThrow().page(BOOTS_AT >>> RamBlock.PAGE_SHIFT)
                .get(ValueLayout.JAVA_BYTE, BOOTS_AT & (RamBlock.PAGE_SIZE - 1));
    }

    private static String serial(Path p) throws IOException {
        return Files.readString(p, StandardCharsets.US_ASCII);
    }

    @Test
    void tripleFaultResetsTheMachineWhichBootsAgainAndKeepsRunning() throws Exception {
        Path serial = dir.resolve("serial.log");
        try (Machine m = boot(GuestActions.DEFAULT, serial)) {
            m.cont();
            await().atMost(TestTimeouts.LONG).until(() -> serial(serial).length() >= 2 || m.vcpus().failure() != null);
            assertThat(m.vcpus().failure()).isNull();
            assertThat(serial(serial)).as("booted, reset by its triple fault, booted again").isEqualTo("12");
            await().atMost(TestTimeouts.LONG).until(() -> events.contains("RESET true guest-reset"));
            assertThat(m.runState()).as("a reset is no stop").isEqualTo(RunState.RUNNING);
            assertThat(events).containsExactly("RESUME", "RESET true guest-reset");
            m.transition(RunState.PAUSED);
            assertThat(boots(m)).as("RAM kept across the reset, the boot sector reloaded").isEqualTo(2);
        }
    }

    @Test
    void withRebootShutdownTheTripleFaultShutsTheMachineDownUntilSystemReset() throws Exception {
        Path serial = dir.resolve("serial.log");
        try (Machine m = boot(GuestActions.DEFAULT.withReboot(GuestActions.Reboot.SHUTDOWN), serial)) {
            m.cont();
            await().atMost(TestTimeouts.LONG).until(() -> m.runState() == RunState.SHUTDOWN || m.vcpus().failure() != null);
            assertThat(m.vcpus().failure()).isNull();
            assertThat(events).containsExactly("RESUME", "SHUTDOWN true guest-reset", "STOP");
            assertThat(serial(serial)).isEqualTo("1");
            assertThatThrownBy(m::cont).isInstanceOf(QmpException.class).hasMessageContaining("Resetting the Virtual Machine is required");

            m.setActions(GuestActions.DEFAULT);
            m.systemReset();
            assertThat(m.runState()).as("a stopped machine waits for cont after a reset, as QEMU's").isEqualTo(RunState.PRELAUNCH);
            assertThat(events).endsWith("RESET false host-qmp-system-reset");
            m.cont();
            await().atMost(TestTimeouts.LONG).until(() -> serial(serial).length() >= 2);
            assertThat(serial(serial)).isEqualTo("12");
            assertThat(m.runState()).isEqualTo(RunState.RUNNING);
        }
    }

    @Test
    void systemResetOfARunningMachineRebootsIt() throws Exception {
        Path serial = dir.resolve("serial.log");
        try (Machine m = boot(GuestActions.DEFAULT, serial)) {
            m.cont();
            await().atMost(TestTimeouts.LONG).until(() -> serial(serial).length() >= 2);
            m.systemReset();
            await().atMost(TestTimeouts.LONG).until(() -> serial(serial).length() >= 3);
            assertThat(serial(serial)).isEqualTo("123");
            assertThat(events).containsExactly("RESUME", "RESET true guest-reset", "RESET false host-qmp-system-reset");
            assertThat(m.runState()).isEqualTo(RunState.RUNNING);
        }
    }
}
