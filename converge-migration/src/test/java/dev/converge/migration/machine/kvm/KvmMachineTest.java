package dev.converge.migration.machine.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.MigrationBitmap;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.machine.WorkloadKind;
import dev.converge.testing.TestTimeouts;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pattern guest on real KVM vCPUs: boot, serial marks, stop/resume, dirty log. Needs /dev/kvm. */
@RequiresKvm
class KvmMachineTest {
    static final long MEMORY = 32L << 20;

    static Machine boot(String name, long memory, int vcpus, RunState initial) {
        return Machine.create(name, MachineSpec.of(memory, vcpus, WorkloadKind.IDLE), initial,
                KvmAccelerator.factory(KvmGuest.pattern(), SerialSink.none()));
    }

    static KvmAccelerator kvm(Machine m) {
        return (KvmAccelerator) m.accelerator();
    }

    @Test
    void patternGuestBootsWritesMarksAndKeepsItsPagesConsistent() {
        try (Machine m = boot("t", MEMORY, 1, RunState.RUNNING)) {
            await().atMost(TestTimeouts.LONG).until(() -> kvm(m).serialBytes() >= 3 || m.vcpus().failure() != null);
            assertThat(m.vcpus().failure()).isNull();
            m.transition(RunState.PAUSED);
            PatternCheck.assertConsistent(m);
            assertThat(PatternCheck.ramEnd(m)).as("the guest read the RAM size from the CMOS").isEqualTo(MEMORY);
            assertThat(PatternCheck.passes(m)).isGreaterThanOrEqualTo(2);
        }
    }

    @Test
    void stoppedGuestDirtiesNothingAndResumedGuestDirtiesItsPages() {
        try (Machine m = boot("t", MEMORY, 2, RunState.RUNNING)) {
            await().atMost(TestTimeouts.LONG).until(() -> kvm(m).serialBytes() >= 2);
            m.transition(RunState.PAUSED);
            MigrationBitmap bitmap = m.ram().newMigrationBitmap();
            long first = m.ram().syncDirtyLog(bitmap);
            long pagesInRange = (MEMORY - (1 << 20)) / RamBlock.PAGE_SIZE;
            assertThat(first).as("every page of the loop was written").isGreaterThanOrEqualTo(pagesInRange);
            MigrationBitmap again = m.ram().newMigrationBitmap();
            assertThat(m.ram().syncDirtyLog(again)).as("nothing runs while stopped").isZero();
            long before = kvm(m).serialBytes();
            m.transition(RunState.RUNNING);
            await().atMost(TestTimeouts.LONG).until(() -> kvm(m).serialBytes() >= before + 2);
            m.transition(RunState.PAUSED);
            MigrationBitmap third = m.ram().newMigrationBitmap();
            assertThat(m.ram().syncDirtyLog(third)).as("a full pass dirties every page again").isGreaterThanOrEqualTo(pagesInRange);
            PatternCheck.assertConsistent(m);
        }
    }

    @Test
    void theDirtyRingCollectsEveryPageOfEveryPassAsTheBitmapDoes() {
        try (Machine m = Machine.create("t", MachineSpec.of(MEMORY, 1, WorkloadKind.IDLE), RunState.RUNNING,
                KvmAccelerator.factory(KvmGuest.pattern(), SerialSink.none(), 65536))) {
            assertThat(kvm(m).dirtyTracking()).isEqualTo("ring");
            long pagesInRange = (MEMORY - (1 << 20)) / RamBlock.PAGE_SIZE;
            for (int round = 0; round < 3; round++) {
                long before = kvm(m).serialBytes();
                // Two pass marks: at least one whole pass ran since the last collection.
                await().atMost(TestTimeouts.LONG).until(() -> kvm(m).serialBytes() >= before + 2 || m.vcpus().failure() != null);
                assertThat(m.vcpus().failure()).isNull();
                m.transition(RunState.PAUSED);
                MigrationBitmap bitmap = m.ram().newMigrationBitmap();
                assertThat(m.ram().syncDirtyLog(bitmap)).as("round %d: every page of a pass", round).isGreaterThanOrEqualTo(pagesInRange);
                PatternCheck.assertConsistent(m);
                m.transition(RunState.RUNNING);
            }
        }
    }

    @Test
    void vcpuStateMovesToAnotherMachineWhichContinuesTheComputation() {
        try (Machine src = boot("src", MEMORY, 2, RunState.RUNNING); Machine dst = boot("dst", MEMORY, 2, RunState.INMIGRATE)) {
            await().atMost(TestTimeouts.LONG).until(() -> kvm(src).serialBytes() >= 2);
            src.beginSwitchover();
            int passes = PatternCheck.passes(src);
            for (int b = 0; b < src.ram().blocks().size(); b++) {
                RamBlock from = src.ram().blocks().get(b);
                RamBlock to = dst.ram().blocks().get(b);
                for (long p = 0; p < from.pages(); p++) {
                    ByteBuffer page = ByteBuffer.allocate(RamBlock.PAGE_SIZE);
                    from.page(p).asByteBuffer().get(page.array());
                    to.loadPage(p << RamBlock.PAGE_SHIFT, page);
                }
            }
            dst.loadDeviceState(ByteBuffer.wrap(src.saveDeviceState()).order(ByteOrder.LITTLE_ENDIAN));
            assertThat(dst.ramDigest()).isEqualTo(src.ramDigest());
            src.completeSwitchover();
            dst.incomingCompleted();
            await().atMost(TestTimeouts.LONG).until(() -> kvm(dst).serialBytes() >= 2 || dst.vcpus().failure() != null);
            assertThat(dst.vcpus().failure()).isNull();
            dst.transition(RunState.PAUSED);
            assertThat(PatternCheck.passes(dst)).as("the destination went on counting").isGreaterThanOrEqualTo(passes + 2);
            PatternCheck.assertConsistent(dst);
        }
    }

    @TempDir
    Path dir;

    static Machine bootFile(Path guest, RunState initial) {
        return Machine.create("t", MachineSpec.of(MEMORY, 1, WorkloadKind.IDLE), initial,
                KvmAccelerator.factory(KvmGuest.file(guest), SerialSink.none()));
    }

    @Test
    void haltedGuestStopsAndSavesItsState() throws Exception {
        Path guest = dir.resolve("hlt.bin");
        Files.write(guest, HexFormat.of().parseHex("faf4ebfd")); // cli; hlt; jmp back to hlt
        try (Machine m = bootFile(guest, RunState.RUNNING)) {
            m.transition(RunState.PAUSED); // the kick takes the vCPU out of a halt in the kernel, too
            assertThat(m.vcpus().failure()).isNull();
            assertThat(m.saveDeviceState()).isNotEmpty();
            m.transition(RunState.RUNNING);
            m.transition(RunState.PAUSED);
        }
    }

    @Test
    void kicksSentWhileAVcpuIsParkedDoNotOutliveItsThread() throws Exception {
        // Regression: a stop right after a resume kicks a vCPU that never entered the guest, and
        // close kicks it again; real-time signals queue, so both must be taken before the thread
        // ends, or the JVM's thread exit would deliver one and kill the process (this fork).
        Path guest = dir.resolve("hlt.bin");
        Files.write(guest, HexFormat.of().parseHex("faf4ebfd"));
        for (int i = 0; i < 5; i++) {
            try (Machine m = bootFile(guest, RunState.PRELAUNCH)) {
                for (int j = 0; j < 3; j++) {
                    m.transition(RunState.RUNNING);
                    m.transition(RunState.PAUSED);
                }
                assertThat(m.vcpus().failure()).isNull();
            }
        }
    }
}
