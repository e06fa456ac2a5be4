package dev.converge.migration.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.migration.wire.WireFormat;
import dev.converge.testing.FaultProxy;
import dev.converge.testing.TestTimeouts;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * multifd through QMP between two daemons: the capability and its parameters, query-migrate's
 * multifd-bytes and duplicate, a channel broken in flight (the source resumes, both sides say
 * why), a cancel that takes the channels with it.
 */
@Tag("integration")
class MultifdQmpTest {
    private static final String SPEC = "memory=32M,vcpus=1,workload=pattern,dirty-rate=8M";
    private final Peers peers = new Peers(SPEC);

    @AfterEach
    void close() throws Exception {
        peers.close();
        await().atMost(TestTimeouts.SHORT).untilAsserted(() -> assertThat(Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().contains("-multifd-")).map(Thread::getName).toList()).isEmpty());
    }

    @Test
    void multifdWithThreeChannelsAndZstdMigratesTheRunningMachineIntact() {
        Peer src = peers.source();
        Peer dst = peers.destination();
        src.capabilities("multifd");
        dst.capabilities("multifd");
        src.exec("migrate-set-parameters", "{\"multifd-channels\": 3, \"multifd-compression\": \"zstd\", "
                + "\"multifd-zstd-level\": 3}");
        src.exec("migrate", "{\"uri\": \"" + dst.listeningUri() + "\"}");
        await().atMost(TestTimeouts.LONG).until(() -> src.migrationStatus().equals("completed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("paused"));
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
        JsonNode ram = src.exec("query-migrate").get("ram");
        assertThat(ram.get("multifd-bytes").asLong()).isPositive().isLessThan(ram.get("transferred").asLong());
        assertThat(ram.get("normal").asLong()).isPositive();
        // zstd: the pattern's pages (one byte each) shrink far below their 4 KiB.
        assertThat(ram.get("transferred").asLong()).isLessThan(ram.get("normal").asLong() * WireFormat.PAGE_SIZE / 8);
        // The pages never written count as zero pages, as QEMU's first pass finds them.
        assertThat(ram.get("duplicate").asLong() + ram.get("normal").asLong())
                .isGreaterThanOrEqualTo(ram.get("total").asLong() / WireFormat.PAGE_SIZE);
    }

    @Test
    void aChannelBrokenInFlightFailsTheMigrationAndTheSourceRunsOn() throws Exception {
        Peer src = peers.source();
        Peer dst = peers.destination();
        FaultProxy proxy = peers.proxyTo(dst);
        // Channel 1's hello loses its magic on the way: the destination refuses that channel.
        proxy.tamperUpstream((chunk, offset) -> {
            ByteBuffer c = chunk.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            if (offset == 0 && c.remaining() >= WireFormat.MULTIFD_HELLO_SIZE && c.getInt(c.position()) == WireFormat.MULTIFD_MAGIC
                    && c.getShort(c.position() + 8) == 1) {
                chunk.put(chunk.position(), (byte) 'X');
            }
        });
        src.capabilities("multifd");
        dst.capabilities("multifd");
        src.exec("migrate", "{\"uri\": \"" + proxy.uri() + "\"}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("failed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        assertThat(dst.exec("query-migrate").get("error-desc").asText())
                .contains("is malformed: multifd channel magic: 0x464d5658");
        assertThat(src.exec("query-migrate").get("error-desc").asText()).isNotEmpty();
        assertThat(src.status()).isEqualTo("running");
        assertThat(dst.status()).isEqualTo("inmigrate");

        // Both sides are ready for the next attempt, which goes through.
        dst.exec("migrate-incoming", "{\"uri\": \"tcp:127.0.0.1:0\"}");
        src.exec("migrate", "{\"uri\": \"" + dst.listeningUri() + "\"}");
        await().atMost(TestTimeouts.LONG).until(() -> src.migrationStatus().equals("completed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("paused"));
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
    }

    @Test
    void aCancelClosesEveryChannelAndTheSourceRunsOn() {
        Peer src = peers.source();
        Peer dst = peers.destination();
        src.capabilities("multifd");
        dst.capabilities("multifd");
        src.exec("migrate-set-parameters", "{\"multifd-channels\": 4, \"max-bandwidth\": 1048576}");
        src.exec("migrate", "{\"uri\": \"" + dst.listeningUri() + "\"}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.exec("query-migrate").path("ram").path("multifd-bytes").asLong() > 0);
        src.exec("migrate_cancel");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("cancelled"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        assertThat(src.status()).isEqualTo("running");
        assertThat(dst.status()).isEqualTo("inmigrate");
    }

    @ParameterizedTest(name = "multifd on the source: {0}")
    @ValueSource(booleans = {true, false})
    void theCapabilityMustBeOnBothSidesOrNeitherAndTheSourceRunsOn(boolean onTheSource) {
        Peer src = peers.source();
        Peer dst = peers.destination();
        (onTheSource ? src : dst).capabilities("multifd");
        src.exec("migrate", "{\"uri\": \"" + dst.listeningUri() + "\"}");
        String why = onTheSource ? "Capability multifd is off, but received capability is on"
                : "Capability multifd is on, but received capability is off";
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        assertThat(dst.exec("query-migrate").get("error-desc").asText()).contains(why);
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("failed"));
        assertThat(src.exec("query-migrate").get("error-desc").asText()).contains(why);
        assertThat(src.status()).isEqualTo("running");
        assertThat(dst.status()).isEqualTo("inmigrate");
    }
}
