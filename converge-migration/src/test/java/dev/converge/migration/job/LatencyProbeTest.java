package dev.converge.migration.job;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.RejectedExecutionException;
import org.junit.jupiter.api.Test;

class LatencyProbeTest {
    /** An executor that runs nothing until told: the test decides how long a task waits. */
    private final Queue<Runnable> queued = new ArrayDeque<>();
    /** The probe's clock, moved by the test alone: no sample depends on how busy the machine is. */
    private long now = 1_000;

    @Test
    void measuresTheWaitOfThePostedTaskAndKeepsTheLongest() {
        LatencyProbe probe = new LatencyProbe(queued::add, () -> now);
        assertThat(probe.recentMax()).isEqualTo(Duration.ZERO);

        probe.probe();
        now += 700;
        probe.probe(); // the first still waits: no second task
        assertThat(queued).hasSize(1);
        now += 300;
        queued.poll().run();
        assertThat(probe.recentMax()).isEqualTo(Duration.ofNanos(1_000));

        probe.probe();
        now += 10;
        queued.poll().run(); // shorter, so the maximum stays
        assertThat(probe.recentMax()).isEqualTo(Duration.ofNanos(1_000));
    }

    @Test
    void theOldestSampleLeavesTheWindow() {
        LatencyProbe probe = new LatencyProbe(queued::add, () -> now);
        probe.probe();
        now += 2_000_000;
        queued.poll().run();
        assertThat(probe.recentMax()).isEqualTo(Duration.ofMillis(2));
        for (int i = 0; i < LatencyProbe.WINDOW - 1; i++) {
            probe.probe();
            now += 1_000 + i;
            queued.poll().run();
        }
        assertThat(probe.recentMax()).as("the long sample is still one of the last %d", LatencyProbe.WINDOW)
                .isEqualTo(Duration.ofMillis(2));
        probe.probe();
        now += 5_000;
        queued.poll().run();
        assertThat(probe.recentMax()).as("the long sample left the window").isEqualTo(Duration.ofNanos(5_000));
    }

    @Test
    void aRefusingExecutorLeavesTheProbeUsable() {
        boolean[] refuse = {true};
        LatencyProbe probe = new LatencyProbe(r -> {
            if (refuse[0]) {
                throw new RejectedExecutionException("shut down");
            }
            queued.add(r);
        });
        probe.probe();
        refuse[0] = false;
        probe.probe();
        assertThat(queued).as("not stuck in flight after the refusal").hasSize(1);
    }
}
