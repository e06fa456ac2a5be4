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

    @Test
    void measuresTheWaitOfThePostedTaskAndKeepsTheLongest() {
        LatencyProbe probe = new LatencyProbe(queued::add);
        assertThat(probe.recentMax()).isEqualTo(Duration.ZERO);

        long before = System.nanoTime();
        probe.probe();
        long posted = System.nanoTime();
        probe.probe(); // the first still waits: no second task
        assertThat(queued).hasSize(1);
        long beforeRun = System.nanoTime();
        queued.poll().run();
        long afterRun = System.nanoTime();
        Duration first = probe.recentMax();
        assertThat(first.toNanos()).isBetween(beforeRun - posted, afterRun - before);

        probe.probe();
        queued.poll().run(); // at once: shorter, so the maximum stays
        assertThat(probe.recentMax()).isEqualTo(first);
    }

    @Test
    void theOldestSampleLeavesTheWindow() {
        LatencyProbe probe = new LatencyProbe(queued::add);
        long before = System.nanoTime();
        probe.probe();
        long floor = System.nanoTime() - before;
        Runnable slow = queued.poll();
        // Make the first sample measurably longer than the ones after it.
        while (System.nanoTime() - before < floor + 2_000_000) {
            Thread.onSpinWait();
        }
        slow.run();
        Duration longest = probe.recentMax();
        for (int i = 0; i < LatencyProbe.WINDOW; i++) {
            probe.probe();
            queued.poll().run();
        }
        assertThat(probe.recentMax()).isLessThan(longest);
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
