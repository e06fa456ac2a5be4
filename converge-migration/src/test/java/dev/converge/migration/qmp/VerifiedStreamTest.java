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
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Verified migration streams (capability x-converge-verify) over real sockets, with a proxy
 * that corrupts the stream in flight.
 */
@Tag("integration")
class VerifiedStreamTest {
    private static final String SPEC = "memory=32M,vcpus=1,workload=pattern,dirty-rate=4M";
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
    }

    private Peer peer(MachineConfig config) {
        Peer p = new Peer(config);
        closing.add(p);
        return p;
    }

    private FaultProxy proxyTo(Peer dst) throws Exception {
        String[] hostPort = dst.listeningUri().substring(4).split(":");
        FaultProxy proxy = FaultProxy.to(new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1])));
        closing.add(proxy);
        return proxy;
    }

    private Peer source() {
        return peer(MachineConfig.of("src", MachineSpec.parse(SPEC)));
    }

    private Peer destination() {
        return peer(MachineConfig.of("dst", MachineSpec.parse(SPEC)).withIncoming("tcp:127.0.0.1:0").withStartPaused(true));
    }

    private static boolean capability(Peer p, String name) {
        for (JsonNode c : p.exec("query-migrate-capabilities")) {
            if (c.get("capability").asText().equals(name)) {
                return c.get("state").asBoolean();
            }
        }
        throw new AssertionError("no capability " + name);
    }

    @Test
    void aByteFlippedInPageDataFailsTheMigrationWithTheChecksumErrorAndTheSourceRunsOnIntact() throws Exception {
        Peer src = source();
        Peer dst = destination();
        assertThat(capability(src, "x-converge-verify")).as("on by default").isTrue();
        PatternWorkload work = (PatternWorkload) src.machine().workload();
        await().atMost(TestTimeouts.SHORT).until(() -> work.progress() > 1000);
        FaultProxy proxy = proxyTo(dst);
        PageDataFlipper flipper = new PageDataFlipper();
        proxy.tamperUpstream(flipper);

        src.exec("migrate", "{\"uri\": \"" + proxy.uri() + "\"}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("failed"));

        assertThat(flipper.flipped()).isTrue();
        assertThat(flipper.headerFlags()).isEqualTo(WireFormat.FLAG_VERIFIED);
        // The source names the destination's reason, also when its write fails on the closed
        // connection before the return path's ERROR is read (it waits for that reason).
        assertThat(src.exec("query-migrate").get("error-desc").asText()).startsWith("destination failed the migration: "
                + "incoming migration stream is corrupt: PAGE_BATCH checksum mismatch: crc32c 0x");
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        assertThat(dst.exec("query-migrate").get("error-desc").asText()).contains("PAGE_BATCH checksum mismatch");
        // The source resumed where it was, its memory consistent, and runs on.
        assertThat(src.status()).isEqualTo("running");
        long p = work.progress();
        await().atMost(TestTimeouts.SHORT).until(() -> work.progress() > p + 100);
        src.exec("stop");
        assertThat(work.checkInvariant(src.machine().ram().blocks().get(0))).isEmpty();
        src.exec("cont");

        // The destination discarded the corrupt stream and takes a clean one.
        assertThat(dst.status()).isEqualTo("inmigrate");
        dst.exec("migrate-incoming", "{\"uri\": \"tcp:127.0.0.1:0\"}");
        src.exec("migrate", "{\"uri\": \"" + dst.listeningUri() + "\"}");
        await().atMost(TestTimeouts.LONG).until(() -> src.migrationStatus().equals("completed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("paused"));
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
        // After the hand-over the source checks its frozen RAM against what it sent.
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.exec("query-migrate").path("x-converge-ram-check")
                .path("status").asText().equals("passed"));
        assertThat(src.exec("query-migrate").get("x-converge-ram-check").get("mismatched-pages").asLong()).isZero();
    }

    @Test
    void verificationCanBeTurnedOffAndTheStreamSaysSo() throws Exception {
        Peer src = source();
        Peer dst = destination();
        src.exec("migrate-set-capabilities", "{\"capabilities\": [{\"capability\": \"x-converge-verify\", \"state\": false}]}");
        assertThat(capability(src, "x-converge-verify")).isFalse();
        FaultProxy proxy = proxyTo(dst);
        PageDataFlipper watcher = new PageDataFlipper();
        proxy.tamperUpstream((chunk, offset) -> {
            if (offset == 0) {
                watcher.apply(chunk.duplicate().limit(chunk.position() + Math.min(chunk.remaining(), 8)), 0);
            }
        });
        src.exec("migrate", "{\"uri\": \"" + proxy.uri() + "\"}");
        await().atMost(TestTimeouts.LONG).until(() -> src.migrationStatus().equals("completed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("paused"));
        assertThat(watcher.headerFlags()).as("an unverified stream").isZero();
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
        assertThat(src.exec("query-migrate").has("x-converge-ram-check")).as("nothing recorded to check against").isFalse();
    }
}
