package dev.converge.migration.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.PatternWorkload;
import dev.converge.migration.wire.WireFormat;
import dev.converge.testing.FaultProxy;
import dev.converge.testing.TestTimeouts;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * multifd through QMP between two daemons: the capability and its parameters, query-migrate's
 * multifd-bytes and duplicate, a channel broken in flight (the source resumes, both sides say
 * why), a cancel that takes the channels with it.
 */
@Tag("integration")
class MultifdQmpTest {
    private static final String SPEC = "memory=32M,vcpus=1,workload=pattern,dirty-rate=8M";
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
        await().atMost(TestTimeouts.SHORT).untilAsserted(() -> assertThat(Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().contains("-multifd-")).map(Thread::getName).toList()).isEmpty());
    }

    private Peer peer(MachineConfig config) {
        Peer p = new Peer(config);
        closing.add(p);
        return p;
    }

    private Peer source() {
        Peer p = peer(MachineConfig.of("src", MachineSpec.parse(SPEC)));
        PatternWorkload work = (PatternWorkload) p.machine().workload();
        await().atMost(TestTimeouts.SHORT).until(() -> work.progress() > 1000);
        return p;
    }

    private Peer destination() {
        return peer(MachineConfig.of("dst", MachineSpec.parse(SPEC)).withIncoming("tcp:127.0.0.1:0").withStartPaused(true));
    }

    @Test
    void multifdWithThreeChannelsAndZstdMigratesTheRunningMachineIntact() {
        Peer src = source();
        Peer dst = destination();
        src.capabilities("multifd");
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
        Peer src = source();
        Peer dst = destination();
        String[] hostPort = dst.listeningUri().substring(4).split(":");
        FaultProxy proxy = FaultProxy.to(new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1])));
        closing.add(proxy);
        // Channel 1's hello loses its magic on the way: the destination refuses that channel.
        proxy.tamperUpstream((chunk, offset) -> {
            ByteBuffer c = chunk.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            if (offset == 0 && c.remaining() >= WireFormat.MULTIFD_HELLO_SIZE && c.getInt(c.position()) == WireFormat.MULTIFD_MAGIC
                    && c.getShort(c.position() + 8) == 1) {
                chunk.put(chunk.position(), (byte) 'X');
            }
        });
        src.capabilities("multifd");
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
        Peer src = source();
        Peer dst = destination();
        src.capabilities("multifd");
        src.exec("migrate-set-parameters", "{\"multifd-channels\": 4, \"max-bandwidth\": 1048576}");
        src.exec("migrate", "{\"uri\": \"" + dst.listeningUri() + "\"}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.exec("query-migrate").path("ram").path("multifd-bytes").asLong() > 0);
        src.exec("migrate_cancel");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("cancelled"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        assertThat(src.status()).isEqualTo("running");
        assertThat(dst.status()).isEqualTo("inmigrate");
    }
}
