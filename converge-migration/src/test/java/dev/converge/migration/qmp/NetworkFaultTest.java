package dev.converge.migration.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.migration.machine.PatternWorkload;
import dev.converge.testing.FaultProxy;
import dev.converge.testing.TestTimeouts;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A migration over a network that delays, partitions or drops (a {@link FaultProxy} between
 * the daemons, real TCP sockets on both sides). Each ends with the destination verified by
 * digest, or with the source running on intact and the destination back to waiting. Where the
 * fault must find the migration still running, its downtime limit is 0 (it cannot converge)
 * until the fault is over: this small guest could otherwise finish before a slow test thread
 * applies the fault.
 */
@Tag("integration")
class NetworkFaultTest {
    private static final String SPEC = "memory=32M,vcpus=1,workload=pattern,dirty-rate=4M";
    private final Peers peers = new Peers(SPEC);

    @AfterEach
    void close() throws Exception {
        peers.close();
    }

    private static void assertVerified(Peer src, Peer dst) {
        await().atMost(TestTimeouts.LONG).until(() -> src.migrationStatus().equals("completed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("paused"));
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
        PatternWorkload w = (PatternWorkload) dst.machine().workload();
        assertThat(w.checkInvariant(dst.machine().ram().blocks().get(0))).isEmpty();
    }

    private static void assertSourceRunsOnIntact(Peer src) {
        assertThat(src.status()).isEqualTo("running");
        PatternWorkload w = (PatternWorkload) src.machine().workload();
        long p = w.progress();
        await().atMost(TestTimeouts.SHORT).until(() -> w.progress() > p + 100);
        src.exec("stop");
        assertThat(w.checkInvariant(src.machine().ram().blocks().get(0))).isEmpty();
        src.exec("cont");
    }

    @Test
    void aSlowLinkDelaysButTheMigrationCompletesVerified() throws Exception {
        Peer src = peers.source();
        Peer dst = peers.destination();
        FaultProxy proxy = peers.proxyTo(dst);
        proxy.delay(Duration.ofMillis(20)); // 40 ms round trip: every PASS_ACK and the switchover's acks wait for it
        src.exec("migrate", "{\"uri\": \"" + proxy.uri() + "\"}");
        assertVerified(src, dst);
    }

    @Test
    void aPartitionThatHealsOnlyPausesTheStream() throws Exception {
        Peer src = peers.source();
        Peer dst = peers.destination();
        FaultProxy proxy = peers.proxyTo(dst);
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 8388608, \"downtime-limit\": 0}"); // runs until the fault
        src.exec("migrate", "{\"uri\": \"" + proxy.uri() + "\"}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("active"));
        proxy.partition();
        long before = dst.exec("query-migrate").get("ram").get("transferred").asLong();
        assertThat(src.migrationStatus()).as("a partition is not an error").isEqualTo("active");
        proxy.heal();
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 1099511627776, \"downtime-limit\": 300}");
        assertVerified(src, dst);
        assertThat(dst.exec("query-migrate").get("ram").get("transferred").asLong()).isGreaterThan(before);
    }

    @Test
    void cancelDuringAPartitionReturnsAtOnceAndTheSourceRunsOn() throws Exception {
        Peer src = peers.source();
        Peer dst = peers.destination();
        FaultProxy proxy = peers.proxyTo(dst);
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 8388608, \"downtime-limit\": 0}"); // runs until the fault
        src.exec("migrate", "{\"uri\": \"" + proxy.uri() + "\"}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("active"));
        proxy.partition(); // the source's writes block once the socket buffers are full
        src.exec("migrate_cancel");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("cancelled"));
        assertSourceRunsOnIntact(src);
        proxy.heal();
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        assertThat(dst.status()).isEqualTo("inmigrate");
    }

    @Test
    void aDroppedConnectionFailsTheMigrationAndBothSidesCanGoAgain() throws Exception {
        Peer src = peers.source();
        Peer dst = peers.destination();
        FaultProxy proxy = peers.proxyTo(dst);
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 8388608, \"downtime-limit\": 0}"); // runs until the fault
        src.exec("migrate", "{\"uri\": \"" + proxy.uri() + "\"}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("active"));
        proxy.drop(); // both ends see a reset
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("failed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        assertSourceRunsOnIntact(src);
        assertThat(dst.status()).as("discarded, not running").isEqualTo("inmigrate");

        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 1099511627776, \"downtime-limit\": 300}");
        dst.exec("migrate-incoming", "{\"uri\": \"tcp:127.0.0.1:0\"}");
        src.exec("migrate", "{\"uri\": \"" + dst.listeningUri() + "\"}");
        assertVerified(src, dst);
    }
}
