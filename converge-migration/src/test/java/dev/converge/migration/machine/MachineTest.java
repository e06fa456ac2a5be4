package dev.converge.migration.machine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.converge.migration.qmp.MachineQmp;
import dev.converge.qmp.Args;
import dev.converge.qmp.ErrorClass;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.testing.TestTimeouts;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.List;
import org.junit.jupiter.api.Test;

class MachineTest {
    static JsonNode call(QmpRegistry r, String command) {
        return r.command(command).orElseThrow().handler().handle(new Args(JsonNodeFactory.instance.objectNode()));
    }

    @Test
    void stopReturnsAtASafePointAndThePatternInvariantHolds() {
        MachineSpec spec = MachineSpec.of(4L << 20, 2, WorkloadKind.PATTERN);
        try (Machine m = Machine.create("m", spec, RunState.RUNNING)) {
            PatternWorkload w = (PatternWorkload) m.workload();
            RamBlock ram = m.ram().blocks().get(0);
            for (int round = 0; round < 5; round++) {
                long before = w.progress();
                await().atMost(TestTimeouts.SHORT).until(() -> w.progress() > before + 3000);
                m.stop();
                assertThat(m.runState()).isEqualTo(RunState.PAUSED);
                String digest = m.ramDigest();
                long progress = w.progress();
                assertThat(w.checkInvariant(ram)).isEmpty();
                assertThat(m.ramDigest()).as("no write after stop() returned").isEqualTo(digest);
                assertThat(w.progress()).isEqualTo(progress);
                m.cont();
                assertThat(m.runState()).isEqualTo(RunState.RUNNING);
            }
        }
    }

    @Test
    void invariantCheckFindsALostPage() {
        MachineSpec spec = MachineSpec.of(1L << 20, 1, WorkloadKind.PATTERN);
        try (Machine m = Machine.create("m", spec, RunState.RUNNING)) {
            PatternWorkload w = (PatternWorkload) m.workload();
            await().atMost(TestTimeouts.SHORT).until(() -> w.progress() > 600);
            m.stop();
            RamBlock ram = m.ram().blocks().get(0);
            ram.write(7L * RamBlock.PAGE_SIZE, (byte) (ram.read(7L * RamBlock.PAGE_SIZE) - 1));
            assertThat(w.checkInvariant(ram)).get().asString().startsWith("page 7 ");
        }
    }

    @Test
    void dirtyRatePacesTheWorkload() {
        // 4 MiB/s = 1024 pages/s; within a short bound the workload must not run unpaced.
        MachineSpec spec = new MachineSpec(16L << 20, 1, WorkloadKind.PATTERN, OptionalLong.of(4L << 20),
                OptionalLong.empty(), Optional.empty());
        try (Machine m = Machine.create("m", spec, RunState.RUNNING)) {
            PatternWorkload w = (PatternWorkload) m.workload();
            await().atMost(TestTimeouts.SHORT).until(() -> w.progress() >= 64);
            // A vCPU that fell behind (descheduled on a busy machine) may catch up in a burst of up
            // to 1 s of pages (1024), even right after a resume if it is descheduled then; the window
            // is long enough that such a burst still leaves 1024 paced pages, at least ~1 s.
            m.stop();
            m.cont();
            long t0 = System.nanoTime();
            long p0 = w.progress();
            await().atMost(TestTimeouts.SHORT).until(() -> w.progress() >= p0 + 2048);
            // Unpaced, 2048 pages take microseconds.
            assertThat(System.nanoTime() - t0).isGreaterThan(500_000_000L);
        }
    }

    @Test
    void throttleIsValidatedAndStopStillWorksWhenThrottled() {
        try (Machine m = Machine.create("m", MachineSpec.of(1L << 20, 2, WorkloadKind.STRESS), RunState.RUNNING)) {
            assertThatThrownBy(() -> m.vcpus().setThrottle(100)).hasMessage("throttle: 100 (expected: 0..99)");
            m.vcpus().setThrottle(90);
            m.stop();
            String d = m.ramDigest();
            assertThat(m.ramDigest()).isEqualTo(d);
            assertThat(m.vcpus().failure()).isNull();
        }
    }

    @Test
    void qmpStatusStopContAndDigest() {
        try (Machine m = Machine.create("m", MachineSpec.of(1L << 20, 1, WorkloadKind.IDLE), RunState.RUNNING)) {
            QmpRegistry r = new QmpRegistry();
            List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
            MachineQmp.register(r, m, (name, data) -> events.add(name));
            assertThat(call(r, "query-status").toString()).isEqualTo("{\"running\":true,\"status\":\"running\"}");
            call(r, "stop");
            assertThat(call(r, "query-status").toString()).isEqualTo("{\"running\":false,\"status\":\"paused\"}");
            call(r, "stop");
            call(r, "cont");
            assertThat(call(r, "query-status").get("status").asText()).isEqualTo("running");
            call(r, "cont");
            assertThat(events).as("QEMU's STOP and RESUME, once per change of whether the vCPUs run")
                    .containsExactly("STOP", "RESUME");
            JsonNode digest = call(r, "query-machine-digest");
            assertThat(digest.get("ram").asText()).hasSize(64).isEqualTo(m.ramDigest());
            assertThat(digest.get("disks").isObject()).isTrue();
            assertThat(digest.get("disks").size()).isZero();

            m.beginSwitchover();
            assertThatThrownBy(() -> call(r, "cont")).isInstanceOfSatisfying(QmpException.class, e -> {
                assertThat(e.errorClass()).isEqualTo(ErrorClass.GenericError);
                assertThat(e.desc()).isEqualTo("Migration is not finalized yet");
            });
            assertThat(m.runState()).isEqualTo(RunState.FINISH_MIGRATE);
            m.completeSwitchover();
            assertThat(call(r, "query-status").get("status").asText()).isEqualTo("postmigrate");
            call(r, "cont");
            assertThat(m.runState()).isEqualTo(RunState.RUNNING);
        }
    }

    @Test
    void queryKvmSaysTheAcceleratorIsBuiltInAndWhetherTheMachineUsesIt() {
        try (Machine m = Machine.create("m", MachineSpec.of(1L << 20, 1, WorkloadKind.IDLE), RunState.RUNNING)) {
            QmpRegistry r = new QmpRegistry();
            MachineQmp.register(r, m, (name, data) -> { });
            assertThat(call(r, "query-kvm").toString()).isEqualTo("{\"enabled\":false,\"present\":true}");
        }
        QmpRegistry none = new QmpRegistry();
        MachineQmp.registerWithoutMachine(none);
        assertThat(call(none, "query-kvm").toString()).isEqualTo("{\"enabled\":false,\"present\":true}");
    }

    @Test
    void contAndStopWhileInmigrateOnlySetAutostart() {
        try (Machine m = Machine.create("m", MachineSpec.of(1L << 20, 1, WorkloadKind.IDLE), RunState.INMIGRATE)) {
            m.stop();
            assertThat(m.runState()).isEqualTo(RunState.INMIGRATE);
            m.loadDeviceState(java.nio.ByteBuffer.wrap(sourceState()));
            m.incomingCompleted();
            assertThat(m.runState()).isEqualTo(RunState.PAUSED);
        }
        try (Machine m = Machine.create("m", MachineSpec.of(1L << 20, 1, WorkloadKind.IDLE), RunState.INMIGRATE)) {
            m.stop();
            m.cont();
            assertThat(m.runState()).isEqualTo(RunState.INMIGRATE);
            m.incomingCompleted();
            assertThat(m.runState()).isEqualTo(RunState.RUNNING);
        }
    }

    private static byte[] sourceState() {
        try (Machine src = Machine.create("s", MachineSpec.of(1L << 20, 1, WorkloadKind.IDLE), RunState.PRELAUNCH)) {
            return src.saveDeviceState();
        }
    }

    @Test
    void deviceStateOfAnotherSpecIsRefusedNamingTheField() {
        byte[] state;
        try (Machine src = Machine.create("s", MachineSpec.of(2L << 20, 2, WorkloadKind.PATTERN), RunState.PRELAUNCH)) {
            state = src.saveDeviceState();
        }
        try (Machine dst = Machine.create("d", MachineSpec.of(2L << 20, 1, WorkloadKind.PATTERN), RunState.INMIGRATE)) {
            assertThatThrownBy(() -> dst.loadDeviceState(java.nio.ByteBuffer.wrap(state)))
                    .hasMessage("device state length: 48 (expected: 32)");
        }
        try (Machine dst = Machine.create("d", MachineSpec.of(4L << 20, 2, WorkloadKind.PATTERN), RunState.INMIGRATE)) {
            assertThatThrownBy(() -> dst.loadDeviceState(java.nio.ByteBuffer.wrap(state)))
                    .hasMessage("device state memory: 2097152 (expected: 4194304)");
        }
    }

    @Test
    void illegalTransitionIsABug() {
        try (Machine m = Machine.create("m", MachineSpec.of(1L << 20, 1, WorkloadKind.IDLE), RunState.INMIGRATE)) {
            assertThatThrownBy(() -> m.transition(RunState.PRELAUNCH)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("invalid runstate transition: 'inmigrate' -> 'prelaunch'");
        }
    }
}
