package dev.converge.migration.postcopy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.migration.machine.GuestRam;
import dev.converge.migration.machine.PageGate;
import dev.converge.testing.TestTimeouts;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class PageStatesTest {
    private final GuestRam ram = new GuestRam(List.of(new GuestRam.BlockInfo("pc.ram", 256 * 4096)));
    private final List<Long> requested = new CopyOnWriteArrayList<>();
    private final PageStates states = new PageStates(ram.blocks(), 2, (block, page) -> requested.add(page));

    @Test
    void aReceivedPagePassesAMissingOneIsRequestedOnceAndWaitsForItsArrival() throws Exception {
        states.markMissing(0, 64, new long[] {1L << 3});
        assertThat(states.missing()).isEqualTo(1);
        PageGate gate = states.gate(0);
        gate.awaitPage(1); // received: returns at once, nothing requested
        assertThat(requested).isEmpty();

        Thread[] waiters = new Thread[2];
        for (int i = 0; i < waiters.length; i++) {
            waiters[i] = Thread.ofPlatform().start(() -> gate.awaitPage(67));
        }
        await().atMost(TestTimeouts.SHORT).until(() -> requested.size() == 1
                && waiters[0].getState() == Thread.State.WAITING && waiters[1].getState() == Thread.State.WAITING);
        assertThat(requested).containsExactly(67L);
        assertThat(states.requested()).singleElement().satisfies(p -> assertThat(p).containsExactly(0, 67));
        assertThat(states.needs(0, 67)).isTrue();

        states.arrived(0, 67);
        for (Thread t : waiters) {
            t.join(TestTimeouts.SHORT.toMillis());
            assertThat(t.isAlive()).isFalse();
        }
        assertThat(states.missing()).isZero();
        assertThat(states.requests()).isEqualTo(1);
        assertThat(states.latency().count()).as("every wait counts, the requester's and the other's").isEqualTo(2);
        Blocktime.Stats stats = states.blocktime().stats();
        assertThat(stats.nonVcpuLatencyNs()).as("the waiters are no vCPUs").isPositive();
        assertThat(stats.vcpuBlockedMs()).containsExactly(0, 0);
        assertThat(stats.allBlockedMs()).isZero();
        assertThat(states.receivedWords(0, 64, 1)[0]).isEqualTo(-1L);
    }

    @Test
    void abandoningFailsTheWaitersSoTheMachineCanStop() throws Exception {
        states.markMissing(0, 0, new long[] {1L});
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                states.gate(0).awaitPage(0);
            } catch (IllegalStateException e) {
                failure.set(e);
            }
        });
        await().atMost(TestTimeouts.SHORT).until(() -> t.getState() == Thread.State.WAITING);
        states.abandon("test");
        t.join(TestTimeouts.SHORT.toMillis());
        assertThat(failure.get()).hasMessageContaining("will never arrive: test");
    }
}
