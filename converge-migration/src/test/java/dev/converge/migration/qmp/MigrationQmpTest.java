package dev.converge.migration.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.migration.job.MigrationJob;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.PatternWorkload;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.machine.WorkingSet;
import dev.converge.migration.qmp.HeldConnector.Hold;
import dev.converge.migration.wire.WireFormat;
import dev.converge.qmp.client.QmpCommandException;
import dev.converge.qmp.schema.SchemaValidator;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Two daemons in-process, driven only through QMP, as management software would. */
@Tag("integration")
class MigrationQmpTest {
    private static final String LISTEN = "tcp:127.0.0.1:0";

    @TempDir
    Path dir;

    private final List<Peer> peers = new ArrayList<>();
    private final List<HeldConnector> connectors = new ArrayList<>();

    @AfterEach
    void closePeers() {
        connectors.forEach(HeldConnector::release); // a failed test must not leave a job thread held
        peers.reversed().forEach(Peer::close);
    }

    private Peer peer(MachineConfig config, String... blockdevs) {
        Peer p = new Peer(config, blockdevs);
        peers.add(p);
        return p;
    }

    private Peer source(String spec) {
        return peer(MachineConfig.of("src", MachineSpec.parse(spec)));
    }

    private Peer destination(String spec, boolean startPaused) {
        return peer(MachineConfig.of("dst", MachineSpec.parse(spec)).withIncoming(LISTEN).withStartPaused(startPaused));
    }

    private static String migrateArgs(String uri, String extra) {
        return "{\"uri\": \"" + uri + "\"" + (extra == null ? "" : ", " + extra) + "}";
    }

    /** query-migrate, checked against the MigrationInfo schema it declares. */
    private static JsonNode queryMigrate(Peer p) {
        JsonNode info = p.exec("query-migrate");
        SchemaValidator.validate(MigrationQmp.INFO, info);
        return info;
    }

    /** The MIGRATION statuses announced, oldest first (those queued already included), up to the first end. */
    private static List<String> migrationStatusesUntilTheEnd(Peer p) {
        List<String> out = new ArrayList<>();
        while (out.isEmpty() || !List.of("completed", "failed", "cancelled").contains(out.getLast())) {
            out.add(p.client().awaitEvent("MIGRATION", TestTimeouts.LONG).path("data").path("status").asText());
        }
        return out;
    }

    /** MIGRATION (as MIGRATION:status), STOP and RESUME events in their order, until the migration ended. */
    private static List<String> runStateEventsUntilTheEnd(Peer p) {
        List<String> out = new ArrayList<>();
        List<String> ends = List.of("MIGRATION:completed", "MIGRATION:failed", "MIGRATION:cancelled");
        while (out.isEmpty() || !ends.contains(out.getLast())) {
            JsonNode e = p.client().awaitEvent(ev -> List.of("MIGRATION", "STOP", "RESUME").contains(ev.path("event").asText()),
                    TestTimeouts.LONG);
            String name = e.path("event").asText();
            out.add(name.equals("MIGRATION") ? name + ":" + e.path("data").path("status").asText() : name);
        }
        return out;
    }

    /**
     * Waits until the vCPUs wrote most of a 4 MiB working set: under load they may not have run
     * yet, and pages never written cost the first pass nothing, so a migration could complete
     * before the behaviour under test (a throttle, a cap, a second pass) shows.
     */
    private static void awaitWorkingSetWritten(Peer p) {
        WorkingSet.awaitMostlyWritten(p.machine(), 1024);
    }

    private static JsonNode job(Peer p, String id) {
        for (JsonNode j : p.exec("query-jobs")) {
            if (j.get("id").asText().equals(id)) {
                return j;
            }
        }
        return null;
    }

    @Test
    void patternMachineMigratesWhileRunningAndRunsOnTheDestination() {
        String spec = "memory=256M,vcpus=2,workload=pattern,dirty-rate=32M";
        Peer src = source(spec);
        Peer dst = destination(spec, true);
        src.capabilities("events");
        dst.capabilities("events");
        PatternWorkload srcWork = (PatternWorkload) src.machine().workload();
        await().atMost(TestTimeouts.SHORT).until(() -> srcWork.progress() > 1000);
        assertThat(dst.status()).isEqualTo("inmigrate");

        src.exec("migrate", migrateArgs(dst.listeningUri(), "\"detach\": true"));
        src.awaitMigration("setup");
        src.awaitMigration("active");
        src.client().awaitEvent("STOP", TestTimeouts.LONG);
        src.awaitMigration("completed");
        dst.awaitMigration("completed");

        JsonNode info = src.exec("query-migrate");
        assertThat(info.get("status").asText()).isEqualTo("completed");
        assertThat(info.has("downtime")).isTrue();
        assertThat(info.has("expected-downtime")).isFalse();
        assertThat(info.get("ram").get("total").asLong()).isEqualTo(src.machine().ram().size());
        assertThat(info.get("ram").get("transferred").asLong()).isGreaterThan(0);
        assertThat(info.get("ram").get("dirty-sync-count").asLong()).isGreaterThanOrEqualTo(1);
        assertThat(dst.migrationStatus()).isEqualTo("completed");

        // At the switchover point the source stopped for good, and -S keeps the destination paused.
        assertThat(src.status()).isEqualTo("postmigrate");
        assertThat(dst.status()).isEqualTo("paused");
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
        PatternWorkload dstWork = (PatternWorkload) dst.machine().workload();
        assertThat(dstWork.checkInvariant(dst.machine().ram().blocks().get(0))).isEmpty();
        assertThat(dstWork.progress()).isEqualTo(srcWork.progress());

        dst.exec("cont");
        assertThat(dst.status()).isEqualTo("running");
        long p = dstWork.progress();
        await().atMost(TestTimeouts.SHORT).until(() -> dstWork.progress() > p + 500);
        assertThat(src.exec("query-jobs")).as("auto-dismissed").isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"job-finalize", "migrate-continue", "job-cancel"})
    void pauseBeforeSwitchoverWaitsInPendingWithBothSidesStopped(String how) {
        String spec = "memory=64M,vcpus=2,workload=pattern,dirty-rate=16M";
        Peer src = source(spec);
        Peer dst = destination(spec, false);
        src.capabilities("events", "pause-before-switchover");
        src.exec("migrate", migrateArgs(dst.listeningUri(), "\"job-id\": \"mig0\""));
        src.awaitJob("mig0", "pending");
        src.awaitMigration("pre-switchover");
        assertThat(src.migrationStatus()).isEqualTo("pre-switchover");
        assertThat(src.status()).isEqualTo("finish-migrate");
        assertThat(dst.status()).as("holds the state, does not run it").isEqualTo("inmigrate");
        assertThat(dst.exec("query-machine-digest").get("ram")).isEqualTo(src.exec("query-machine-digest").get("ram"));
        assertThatThrownBy(() -> src.exec("migrate-continue", "{\"state\": \"active\"}"))
                .hasMessageContaining("Migration not in expected state: pre-switchover");

        switch (how) {
            case "job-finalize" -> src.exec("job-finalize", "{\"id\": \"mig0\"}");
            case "migrate-continue" -> src.exec("migrate-continue", "{\"state\": \"pre-switchover\"}");
            default -> src.exec("job-cancel", "{\"id\": \"mig0\"}");
        }
        if (how.equals("job-cancel")) {
            src.awaitMigration("cancelled");
            assertThat(src.status()).as("the source resumes").isEqualTo("running");
            await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
            assertThat(dst.status()).isEqualTo("inmigrate");
            assertThat(dst.exec("query-migrate").get("error-desc").asText()).contains("rolled the switchover back");
        } else {
            src.awaitMigration("completed");
            assertThat(src.status()).isEqualTo("postmigrate");
            await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("running"));
        }
    }

    /** The orders a QEMU 7.2 pair shows (checked with qemu-system-x86_64; QEMU 10.0's code has the same). */
    @Test
    void runStateAndMigrationEventsComeInQemusOrder() {
        String spec = "memory=16M,vcpus=1,workload=pattern,dirty-rate=1M";
        Peer src = source(spec);
        Peer dst = destination(spec, false);
        src.capabilities("events");
        dst.capabilities("events");
        JsonNode listening = queryMigrate(dst).get("socket-address").get(0);
        assertThat(listening.get("type").asText()).isEqualTo("inet");
        assertThat(listening.get("host").asText()).isEqualTo("127.0.0.1");
        assertThat(listening.get("ipv4").asBoolean()).as("QEMU says the socket's family").isTrue();
        assertThat(listening.has("ipv6")).isFalse();
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        assertThat(runStateEventsUntilTheEnd(src)).containsExactly("MIGRATION:setup", "MIGRATION:active", "STOP",
                "MIGRATION:completed");
        assertThat(runStateEventsUntilTheEnd(dst)).as("the destination runs before it shows completed")
                .endsWith("MIGRATION:active", "RESUME", "MIGRATION:completed");
        assertThat(dst.status()).isEqualTo("running");
        dst.exec("stop");
        assertThat(dst.client().awaitEvent("STOP", TestTimeouts.LONG)).isNotNull();
        dst.exec("cont");
        assertThat(dst.client().awaitEvent("RESUME", TestTimeouts.LONG)).isNotNull();
    }

    @Test
    void pauseBeforeSwitchoverShowsStopThenPreSwitchoverThenDevice() {
        String spec = "memory=16M,vcpus=1,workload=pattern,dirty-rate=1M";
        Peer src = source(spec);
        Peer dst = destination(spec, false);
        src.capabilities("events", "pause-before-switchover");
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        src.awaitMigration("pre-switchover");
        // at once: the job may still be sending the rest (it finalizes when it reaches pending)
        src.exec("migrate-continue", "{\"state\": \"pre-switchover\"}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("completed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("running"));
        assertThat(dst.exec("query-machine-digest").get("ram")).isNotNull();

        // and a cancel in pre-switchover resumes the source between cancelling and cancelled
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.exec("query-jobs").isEmpty());
        Peer dst2 = destination(spec, false);
        Peer src2 = source(spec);
        src2.capabilities("events", "pause-before-switchover");
        src2.exec("migrate", migrateArgs(dst2.listeningUri(), null));
        src2.awaitMigration("pre-switchover");
        src2.exec("migrate_cancel");
        assertThat(runStateEventsUntilTheEnd(src2)).containsExactly("MIGRATION:setup", "MIGRATION:active", "STOP",
                "MIGRATION:cancelling", "RESUME", "MIGRATION:cancelled");
        assertThat(src2.status()).isEqualTo("running");
    }

    @Test
    void aPausedSourceGivesAPausedDestinationWithoutStopOrResume() {
        String spec = "memory=16M,vcpus=1,workload=pattern,dirty-rate=1M";
        Peer src = source(spec);
        Peer dst = destination(spec, false);
        src.capabilities("events");
        dst.capabilities("events");
        src.exec("stop");
        src.client().awaitEvent("STOP", TestTimeouts.LONG);
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        assertThat(runStateEventsUntilTheEnd(src)).containsExactly("MIGRATION:setup", "MIGRATION:active",
                "MIGRATION:completed");
        assertThat(runStateEventsUntilTheEnd(dst)).doesNotContain("RESUME", "STOP").endsWith("MIGRATION:completed");
        assertThat(dst.status()).as("as QEMU: the source's run state travels").isEqualTo("paused");
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
    }

    @Test
    void stressFasterThanMaxBandwidthDoesNotConvergeUntilTheBandwidthIsRaised() {
        Peer src = source("memory=32M,vcpus=2,workload=stress,dirty-rate=64M,working-set=16M");
        Peer dst = destination("memory=32M,vcpus=2,workload=stress,dirty-rate=64M,working-set=16M", false);
        // 4 MiB/s against a workload that dirties up to 64 MiB/s of a 16 MiB working set: the
        // remainder cannot fit 300 ms however slowly a loaded machine runs the workload.
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 4194304}");
        awaitWorkingSetWritten(src);
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        await().atMost(TestTimeouts.LONG).until(() -> {
            JsonNode job = job(src, "migration");
            assertThat(job).as("the migration job ended (status %s) before its second pass",
                    src.migrationStatus()).isNotNull();
            return job.get("pass").asLong() >= 2;
        });
        JsonNode j = job(src, "migration");
        assertThat(j.get("status").asText()).isEqualTo("running");
        assertThat(j.get("converged").asBoolean()).isFalse();
        assertThat(j.get("expected-downtime").asLong()).as("honest: remainder over the capped bandwidth")
                .isGreaterThan(300);
        JsonNode info = src.exec("query-migrate");
        assertThat(info.get("status").asText()).isEqualTo("active");
        assertThat(info.get("expected-downtime").asLong()).isGreaterThan(300);
        assertThat(info.get("ram").get("mbps").asDouble()).as("throttled to ~34 Mbit/s").isLessThan(100);
        assertThat(src.status()).isEqualTo("running");

        // job-change goes through migrate-set-parameters' own merge: the same error, nothing changed.
        assertError(src, "job-change", "{\"id\": \"migration\", \"downtime-limit\": 2000001, \"max-bandwidth\": 0}",
                "Parameter 'downtime_limit' expects an integer in the range of 0 to 2000000 ms");
        assertThat(src.exec("query-migrate-parameters").get("max-bandwidth").asLong()).isEqualTo(4194304);
        src.exec("job-change", "{\"id\": \"migration\", \"max-bandwidth\": 0}");
        assertThat(src.exec("query-migrate-parameters").get("max-bandwidth").asLong()).isZero();
        await().atMost(TestTimeouts.LONG).until(() -> src.migrationStatus().equals("completed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("running"));
    }

    @Test
    void theCountersMoveWithinTheFirstPass() {
        // Every page holds data (pattern at full speed) and 4 MiB/s makes the first pass take 8 s:
        // management software polling meanwhile must see it move, as QEMU's counters do.
        String spec = "memory=32M,vcpus=1,workload=pattern";
        Peer src = source(spec);
        Peer dst = destination(spec, true);
        PatternWorkload srcWork = (PatternWorkload) src.machine().workload();
        await().atMost(TestTimeouts.SHORT).until(() -> srcWork.progress() > 3 * 8192);
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 4194304}");
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        long total = src.machine().ram().size();
        JsonNode[] first = new JsonNode[1];
        await().atMost(TestTimeouts.LONG).until(() -> {
            JsonNode ram = queryMigrate(src).get("ram");
            first[0] = ram;
            return ram.get("transferred").asLong() > 0 || ram.get("dirty-sync-count").asLong() > 0;
        });
        assertThat(first[0].get("dirty-sync-count").asLong()).as("still in the first pass").isZero();
        long seen = first[0].get("transferred").asLong();
        await().atMost(TestTimeouts.LONG).until(() -> queryMigrate(src).get("ram").get("transferred").asLong() > seen);
        JsonNode ram = queryMigrate(src).get("ram");
        JsonNode j = job(src, "migration");
        assertThat(ram.get("dirty-sync-count").asLong()).as("the capped first pass takes 8 s").isZero();
        assertThat(ram.get("remaining").asLong()).as("falls as the pass goes on").isLessThan(total);
        assertThat(ram.get("normal").asLong()).isGreaterThan(0);
        assertThat(ram.get("mbps").asDouble()).as("measured within the pass").isGreaterThan(0);
        assertThat(j.get("current-progress").asLong()).as("query-jobs moves too").isGreaterThan(0);
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 0}");
        await().atMost(TestTimeouts.LONG).until(() -> src.migrationStatus().equals("completed"));
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
    }

    @Test
    void autoConvergeThrottlesAGuestTooFastForTheBandwidthUntilItConverges() {
        // The guest dirties its working set many times over in every pass at this cap: unthrottled it
        // never converges (as above). The first pass is short and the steps steep, to keep the test short.
        String spec = "memory=16M,vcpus=2,workload=stress,dirty-rate=64M,working-set=4M";
        Peer src = source(spec);
        Peer dst = destination(spec, true);
        src.capabilities("auto-converge");
        // Downtime limit 0 until the throttle shows: however slowly a loaded machine runs the
        // guest, the migration cannot converge before auto-converge has acted.
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 4194304, \"cpu-throttle-initial\": 90, "
                + "\"cpu-throttle-increment\": 5, \"throttle-trigger-threshold\": 50, \"downtime-limit\": 0}");
        JsonNode params = src.exec("query-migrate-parameters");
        assertThat(params.get("cpu-throttle-initial").asInt()).isEqualTo(90);
        assertThat(params.get("cpu-throttle-increment").asInt()).isEqualTo(5);
        assertThat(params.get("max-cpu-throttle").asInt()).as("QEMU's default").isEqualTo(99);
        assertThat(params.get("cpu-throttle-tailslow").asBoolean()).isFalse();
        awaitWorkingSetWritten(src);

        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        await().atMost(TestTimeouts.LONG).until(() -> {
            JsonNode info = queryMigrate(src);
            assertThat(info.get("status").asText()).as("still migrating when the throttle shows").isEqualTo("active");
            return info.path("cpu-throttle-percentage").asInt() >= 90;
        });
        assertThat(job(src, "migration").get("cpu-throttle-percentage").asInt()).isGreaterThanOrEqualTo(90);
        assertThat(src.machine().vcpus().throttle()).isGreaterThanOrEqualTo(90);

        src.exec("migrate-set-parameters", "{\"downtime-limit\": 300}");
        await().atMost(TestTimeouts.LONG).until(() -> src.migrationStatus().equals("completed"));
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
        assertThat(queryMigrate(src).has("cpu-throttle-percentage")).as("not once completed").isFalse();
        assertThat(src.machine().vcpus().throttle()).as("the throttle ends with the migration").isZero();
        dst.exec("cont");
        assertThat(dst.machine().vcpus().throttle()).as("never carried to the destination").isZero();
    }

    @Test
    void dirtyLimitCapsEachVcpuOnceTheGuestDirtiesTooFastAndLiftsTheCapAtTheEnd() {
        String spec = "memory=16M,vcpus=2,workload=stress,dirty-rate=64M,working-set=4M";
        Peer src = source(spec);
        Peer dst = destination(spec, true);
        src.capabilities("dirty-limit");
        // Downtime limit 0 until the cap shows (see the auto-converge test).
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 4194304, \"vcpu-dirty-limit\": 1, "
                + "\"downtime-limit\": 0}");
        assertThat(src.exec("query-migrate-parameters").get("vcpu-dirty-limit").asLong()).isEqualTo(1);
        awaitWorkingSetWritten(src);

        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        // 1 MiB/s for each of 2 vCPUs against 4 MiB/s: once capped, each pass leaves half as much dirty.
        // Unlimited, this guest never converges at this cap (see the stress test above): the cap must
        // show while the migration is still active, and only then may it complete.
        await().atMost(TestTimeouts.LONG).until(() -> {
            assertThat(src.migrationStatus()).as("still migrating when the cap shows").isIn("setup", "active");
            return src.machine().vcpus().dirtyLimit() == 1 << 20
                    && job(src, "migration").path("dirty-limit").asLong() == 1 << 20; // query-jobs shows it too
        });
        src.exec("migrate-set-parameters", "{\"downtime-limit\": 300}");
        await().atMost(TestTimeouts.LONG).until(() -> src.migrationStatus().equals("completed"));
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
        assertThat(src.machine().vcpus().dirtyLimit()).as("the cap ends with the migration").isZero();
        assertThat(src.machine().vcpus().throttle()).as("dirty-limit is not auto-converge").isZero();
    }

    @Test
    void autoConvergeEndsWithACancelledMigration() {
        String spec = "memory=16M,vcpus=2,workload=stress,dirty-rate=64M,working-set=4M";
        Peer src = source(spec);
        Peer dst = destination(spec, false);
        src.capabilities("auto-converge");
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 4194304, \"cpu-throttle-initial\": 30, "
                + "\"max-cpu-throttle\": 30, \"downtime-limit\": 0}"); // it must not complete: it is cancelled
        awaitWorkingSetWritten(src); // else the migration could complete before the throttle starts
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        await().atMost(TestTimeouts.LONG).until(() -> src.machine().vcpus().throttle() == 30);
        src.exec("migrate_cancel");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("cancelled"));
        assertThat(src.status()).isEqualTo("running");
        assertThat(src.machine().vcpus().throttle()).as("the source runs at full speed again").isZero();
    }

    @Test
    void cancelWhileActiveLeavesTheSourceRunningAndTheDestinationReady() {
        String spec = "memory=64M,vcpus=1,workload=pattern,dirty-rate=8M";
        Peer src = source(spec);
        Peer dst = destination(spec, true);
        src.capabilities("events");
        // Limit 0: never converges (the switchover's measured fixed cost is above 0), so it is still active to cancel.
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 4194304, \"downtime-limit\": 0}");
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        src.awaitMigration("active");
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("active"));
        src.exec("migrate_cancel");
        src.awaitMigration("cancelled");
        src.exec("migrate-set-parameters", "{\"downtime-limit\": 300}");
        assertThat(src.migrationStatus()).isEqualTo("cancelled");
        assertThat(src.status()).isEqualTo("running");
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        assertThat(dst.status()).isEqualTo("inmigrate");

        // The destination accepts a new migrate-incoming; the second migration succeeds.
        dst.exec("migrate-incoming", "{\"uri\": \"" + LISTEN + "\"}");
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 0}");
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        src.awaitMigration("completed");
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("paused"));
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
    }

    @Test
    void destinationQueryMigrateCountsEveryRecordTheSourceSent() {
        String spec = "memory=64M,vcpus=2,workload=pattern,dirty-rate=16M";
        Peer src = source(spec);
        Peer dst = destination(spec, true);
        dst.capabilities("events");
        PatternWorkload srcWork = (PatternWorkload) src.machine().workload();
        await().atMost(TestTimeouts.SHORT).until(() -> srcWork.progress() > 1000);
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        dst.awaitMigration("completed");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("completed"));

        JsonNode srcRam = queryMigrate(src).get("ram");
        JsonNode info = queryMigrate(dst);
        assertThat(info.get("status").asText()).isEqualTo("completed");
        assertThat(info.has("error-desc")).isFalse();
        assertThat(info.has("socket-address")).as("no longer listening").isFalse();
        JsonNode ram = info.get("ram");
        assertThat(ram).as("destination ram: %s", ram).isNotNull();
        // Every record sent is received: the page counts agree exactly, member by member.
        assertThat(ram.get("normal").asLong()).isPositive().isEqualTo(srcRam.get("normal").asLong());
        // The source's duplicate also counts the pages never written, which it sends no record for.
        assertThat(ram.get("duplicate").asLong()).isLessThanOrEqualTo(srcRam.get("duplicate").asLong());
        assertThat(srcRam.get("duplicate").asLong() + srcRam.get("normal").asLong()).as("every page counted")
                .isGreaterThanOrEqualTo(srcRam.get("total").asLong() / RamBlock.PAGE_SIZE);
        assertThat(ram.get("normal-bytes").asLong()).isEqualTo(ram.get("normal").asLong() * RamBlock.PAGE_SIZE);
        assertThat(ram.get("dirty-sync-count").asLong()).as("one END_OF_PASS per pass of the source")
                .isEqualTo(srcRam.get("dirty-sync-count").asLong());
        // The source's count ends with COMPLETE (it is frozen at the ack); the destination also read START after it
        // (a record header and, in the verified stream, its checksum).
        assertThat(ram.get("transferred").asLong())
                .isEqualTo(srcRam.get("transferred").asLong() + WireFormat.RECORD_HEADER_SIZE + WireFormat.CHECKSUM_SIZE);
        assertThat(ram.get("total").asLong()).isEqualTo(dst.machine().ram().size()).isEqualTo(srcRam.get("total").asLong());
        assertThat(ram.get("page-size").asLong()).isEqualTo(RamBlock.PAGE_SIZE);
        assertThat(ram.get("mbps").asDouble()).isPositive();
        for (String member : List.of("remaining", "dirty-pages-rate", "precopy-bytes", "downtime-bytes", "multifd-bytes",
                "postcopy-bytes", "postcopy-requests", "dirty-sync-missed-zero-copy")) {
            assertThat(ram.get(member).asLong()).as("%s: only the source can know it", member).isZero();
        }
        assertThat(ram.get("pages-per-second").asLong()).isPositive();
        assertThat(srcRam.get("precopy-bytes").asLong() + srcRam.get("downtime-bytes").asLong())
                .isEqualTo(srcRam.get("transferred").asLong());
        assertThat(srcRam.size()).as("every MigrationStats member of QEMU 10.0").isEqualTo(17);

        // The destination runs on; what it shows of the migration stays as it was at the end.
        dst.exec("cont");
        PatternWorkload dstWork = (PatternWorkload) dst.machine().workload();
        long p = dstWork.progress();
        await().atMost(TestTimeouts.SHORT).until(() -> dstWork.progress() > p + 500);
        assertThat(queryMigrate(dst)).isEqualTo(info);
    }

    @Test
    void destinationQueryMigrateShowsTheStreamGrowingWhileActive() {
        String spec = "memory=64M,vcpus=1,workload=pattern,dirty-rate=8M";
        Peer src = source(spec);
        Peer dst = destination(spec, true);
        // Limit 0: never converges (the switchover's measured fixed cost is above 0), so it stays active.
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 4194304, \"downtime-limit\": 0}");
        assertThat(queryMigrate(dst).has("ram")).as("listening: nothing received yet").isFalse();
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        await().atMost(TestTimeouts.MEDIUM).until(() -> queryMigrate(dst).path("ram").path("transferred").asLong() > 0);
        JsonNode first = queryMigrate(dst);
        assertThat(first.get("status").asText()).isEqualTo("active");
        assertThat(first.get("ram").get("total").asLong()).isEqualTo(dst.machine().ram().size());
        long transferred = first.get("ram").get("transferred").asLong();
        long totalTime = first.get("total-time").asLong();
        await().atMost(TestTimeouts.MEDIUM).until(() -> queryMigrate(dst).get("ram").get("transferred").asLong() > transferred);
        JsonNode later = queryMigrate(dst);
        assertThat(later.get("status").asText()).isEqualTo("active");
        assertThat(later.get("total-time").asLong()).isGreaterThanOrEqualTo(totalTime);
        assertThat(later.get("ram").get("normal").asLong() + later.get("ram").get("duplicate").asLong())
                .isGreaterThanOrEqualTo(first.get("ram").get("normal").asLong() + first.get("ram").get("duplicate").asLong());

        // A failed migration keeps what it received on show, next to the error.
        src.exec("migrate_cancel");
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        JsonNode failed = queryMigrate(dst);
        assertThat(failed.get("error-desc").asText()).isNotBlank();
        assertThat(failed.get("ram").get("transferred").asLong()).isGreaterThan(transferred);
        assertThat(failed.get("total-time").asLong()).isGreaterThanOrEqualTo(later.get("total-time").asLong());
    }

    @Test
    void aConnectThatDoesNotEndInTimeFailsTheMigrationAndTheSourceRunsOn() throws Exception {
        String spec = "memory=16M,vcpus=1,workload=idle";
        Peer src = source(spec);
        Peer dst = destination(spec, true);
        // A connect that never ends on its own (a peer whose SYNs are dropped) until the channel is closed.
        src.module.useConnector(MigrationJob.Connector.bounded((channel, address) -> {
            await().atMost(TestTimeouts.MEDIUM).until(() -> !channel.isOpen());
            throw new java.nio.channels.AsynchronousCloseException();
        }, java.time.Duration.ofMillis(300)));
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("failed"));
        assertThat(queryMigrate(src).get("error-desc").asText()).startsWith("Failed to connect to '")
                .endsWith("': no connection within 300 ms (connect timeout)");
        assertThat(src.status()).isEqualTo("running");
        assertThat(dst.migrationStatus()).as("never got a connection").isEqualTo("setup");
        assertThatThrownBy(() -> MigrationJob.Connector.bounded(MigrationJob.Connector.DIRECT, java.time.Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("connect timeout: PT0S (expected: > 0)");
    }

    @ParameterizedTest(name = "{0}, job held {1}")
    @CsvSource({"migrate_cancel, BEFORE_CONNECTING", "job-cancel, BEFORE_CONNECTING",
            "migrate_cancel, AFTER_CONNECTING", "job-cancel, AFTER_CONNECTING"})
    void cancelInSetupEndsCancelledAndLeavesTheSourceAsItWas(String verb, Hold hold) throws Exception {
        String spec = "memory=16M,vcpus=1,workload=idle";
        Peer src = source(spec);
        Peer dst = destination(spec, true);
        src.capabilities("events");
        // The idle workload writes nothing: data of our own, so that any change of the digest is the attempt's.
        RamBlock block = src.machine().ram().blocks().get(0);
        for (long page = 0; page < block.pages(); page += 5) {
            block.writeLong(page * RamBlock.PAGE_SIZE, page + 1);
        }
        JsonNode digest = src.exec("query-machine-digest");
        HeldConnector connector = new HeldConnector(hold);
        connectors.add(connector);
        src.module.useConnector(connector);

        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        connector.awaitHeld();
        assertThat(queryMigrate(src).get("status").asText()).isEqualTo("setup");
        assertThat(job(src, "migration").get("migration-status").asText()).isEqualTo("setup");
        src.exec(verb, verb.equals("job-cancel") ? "{\"id\": \"migration\"}" : null);
        assertThat(src.migrationStatus()).isEqualTo("cancelling");
        connector.release();

        // A connect that completes after the cancel must not make it active again.
        assertThat(migrationStatusesUntilTheEnd(src)).containsExactly("setup", "cancelling", "cancelled");
        if (hold == Hold.BEFORE_CONNECTING) {
            assertThat(connector.outcome()).as("the cancel closed the socket before it was connected")
                    .isInstanceOf(ClosedChannelException.class);
            assertThat(dst.migrationStatus()).as("never got a connection").isEqualTo("setup");
        } else {
            assertThat(connector.outcome()).isNull();
            await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
            assertThat(queryMigrate(dst).get("ram").get("transferred").asLong()).as("the source sent nothing").isZero();
            dst.exec("migrate-incoming", "{\"uri\": \"" + LISTEN + "\"}");
        }
        assertThat(src.status()).isEqualTo("running");
        assertThat(src.exec("query-machine-digest")).as("the attempt left the source's RAM alone").isEqualTo(digest);
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.exec("query-jobs").isEmpty());

        // The next migrate connects as usual and moves everything.
        src.module.useConnector(MigrationJob.Connector.DIRECT);
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        assertThat(migrationStatusesUntilTheEnd(src)).containsExactly("setup", "active", "completed");
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("paused"));
        assertThat(dst.exec("query-machine-digest")).isEqualTo(digest);
    }

    @Test
    void readyWithoutAutoCompleteKeepsIteratingUntilCompleteOrCancel() {
        String spec = "memory=16M,vcpus=1,workload=pattern,dirty-rate=1M";
        Peer src = source(spec);
        Peer dst = destination(spec, false);
        src.exec("migrate", migrateArgs(dst.listeningUri(), "\"auto-complete\": false"));
        src.awaitJob("migration", "ready");
        long pass = job(src, "migration").get("pass").asLong();
        await().atMost(TestTimeouts.MEDIUM).until(() -> job(src, "migration").get("pass").asLong() > pass + 2);
        assertThat(job(src, "migration").get("status").asText()).isEqualTo("ready");
        assertThat(src.status()).isEqualTo("running");
        src.exec("job-cancel", "{\"id\": \"migration\"}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("cancelled"));
        assertThat(src.status()).isEqualTo("running");

        // and with job-complete instead
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        dst.exec("migrate-incoming", "{\"uri\": \"" + LISTEN + "\"}");
        src.exec("migrate", migrateArgs(dst.listeningUri(), "\"auto-complete\": false"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> job(src, "migration") != null
                && job(src, "migration").get("status").asText().equals("ready"));
        src.exec("job-complete", "{\"id\": \"migration\"}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("completed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("running"));
    }

    @Test
    void cancelWithTheVcpusStoppedResumesTheSource() throws Exception {
        Peer src = source("memory=16M,vcpus=1,workload=pattern,dirty-rate=1M");
        src.capabilities("events");
        // A destination that takes the whole stream and never answers: no PASS_ACK (so the sender assumes
        // a lag of a full ack wait, 1 s, which a 2 s limit accepts) and no ACK of COMPLETE, so the
        // source waits in the device phase, vCPUs stopped, until the cancel.
        try (ServerSocketChannel mute = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            Thread reader = Thread.ofPlatform().name("mute-destination").start(() -> {
                try (SocketChannel c = mute.accept()) {
                    ByteBuffer sink = ByteBuffer.allocate(1 << 16);
                    while (c.read(sink.clear()) >= 0) {
                        // discard
                    }
                } catch (IOException e) {
                    // the source closed the connection: the end this thread waits for
                }
            });
            InetSocketAddress at = (InetSocketAddress) mute.getLocalAddress();
            src.exec("migrate-set-parameters", "{\"downtime-limit\": 2000}");
            src.exec("migrate", migrateArgs("tcp:127.0.0.1:" + at.getPort(), null));
            src.client().awaitEvent("STOP", TestTimeouts.LONG);
            await().atMost(TestTimeouts.MEDIUM).until(() -> src.status().equals("finish-migrate"));
            PatternWorkload w = (PatternWorkload) src.machine().workload();
            long stoppedAt = w.progress();

            src.exec("migrate_cancel");
            // (the device event was taken above; those before it are still queued)
            assertThat(migrationStatusesUntilTheEnd(src)).endsWith("cancelling", "cancelled").doesNotContain("completed");
            assertThat(src.status()).as("the vCPUs run again").isEqualTo("running");
            assertThat(queryMigrate(src).get("status").asText()).isEqualTo("cancelled");
            await().atMost(TestTimeouts.SHORT).until(() -> w.progress() > stoppedAt + 100);
            reader.join(TestTimeouts.SHORT.toMillis());
            assertThat(reader.isAlive()).as("the source closed the stream").isFalse();
        }
    }

    @Test
    void destinationKilledMidStreamFailsTheJobAndTheSourceRunsOn() {
        String spec = "memory=64M,vcpus=1,workload=pattern,dirty-rate=8M";
        Peer src = source(spec);
        Peer dst = destination(spec, false);
        src.capabilities("events");
        // Limit 0: never converges (the switchover's measured fixed cost is above 0), so it is still active when killed.
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 4194304, \"downtime-limit\": 0}");
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        src.awaitMigration("active");
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("active"));
        dst.close();
        src.awaitMigration("failed");
        JsonNode info = src.exec("query-migrate");
        assertThat(info.get("status").asText()).isEqualTo("failed");
        assertThat(info.get("error-desc").asText()).isNotBlank();
        assertThat(src.status()).isEqualTo("running");
        PatternWorkload w = (PatternWorkload) src.machine().workload();
        long p = w.progress();
        await().atMost(TestTimeouts.SHORT).until(() -> w.progress() > p + 100);
    }

    @Test
    void badStreamsFailTheDestinationCleanlyThenAGoodMigrationSucceeds() throws Exception {
        String spec = "memory=16M,vcpus=1,workload=pattern";
        Peer dst = destination(spec, true);
        for (byte[] bad : new byte[][] {"not a migration stream".getBytes(), {0x43, 0x56, 0x4d, 0x53, 5, 0, 0, 0}}) {
            String[] hostPort = dst.listeningUri().substring(4).split(":");
            try (SocketChannel ch = SocketChannel.open(new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1])))) {
                ch.write(ByteBuffer.wrap(bad));
                ch.shutdownOutput();
                await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
            } catch (IOException e) {
                // the destination may close first
            }
            assertThat(dst.exec("query-migrate").get("error-desc").asText())
                    .containsAnyOf("magic", "truncated");
            assertThat(dst.status()).isEqualTo("inmigrate");
            dst.exec("migrate-incoming", "{\"uri\": \"" + LISTEN + "\"}");
        }
        Peer src = source(spec);
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("completed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("paused"));
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
    }

    @Test
    void diskWorkloadMigratesWithBothDaemonsOnTheSameFileNode() throws Exception {
        // The disk's content moves by a mirror in the joint transaction, not by this job: here both
        // daemons open the same file, so the disk digests must agree at the switchover point.
        Path file = dir.resolve("disk.img");
        Files.write(file, new byte[4 << 20]);
        String node = "{\"driver\": \"file\", \"node-name\": \"disk0\", \"filename\": \"" + file + "\"}";
        String spec = "memory=16M,vcpus=2,workload=stress,dirty-rate=4M,working-set=4M,disk=disk0";
        Peer src = peer(MachineConfig.of("src", MachineSpec.parse(spec)), node);
        Peer dst = peer(MachineConfig.of("dst", MachineSpec.parse(spec)).withIncoming(LISTEN).withStartPaused(true), node);
        String empty = src.exec("query-machine-digest").get("disks").get("disk0").asText();
        await().atMost(TestTimeouts.SHORT).until(() -> !src.exec("query-machine-digest").get("disks").get("disk0")
                .asText().equals(empty));
        src.exec("migrate", migrateArgs(dst.listeningUri(), null));
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("completed"));
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.status().equals("paused"));
        JsonNode s = src.exec("query-machine-digest");
        assertThat(s.get("disks").get("disk0").asText()).hasSize(64);
        assertThat(dst.exec("query-machine-digest")).isEqualTo(s);
    }

    @Test
    void everyQemuParameterIsReportedWithItsDefaultAndSetAsLibvirtSendsIt() throws Exception {
        Peer src = source("memory=16M,vcpus=1,workload=idle");
        JsonNode defaults = src.exec("query-migrate-parameters");
        assertThat(defaults).isEqualTo(new com.fasterxml.jackson.databind.ObjectMapper().readTree("""
                {"announce-initial": 50, "announce-max": 550, "announce-rounds": 5, "announce-step": 100,
                 "throttle-trigger-threshold": 50, "cpu-throttle-initial": 20, "cpu-throttle-increment": 10,
                 "cpu-throttle-tailslow": false, "tls-creds": "", "tls-hostname": "", "tls-authz": "",
                 "max-bandwidth": 134217728, "avail-switchover-bandwidth": 0, "downtime-limit": 300,
                 "x-checkpoint-delay": 20000, "multifd-channels": 2, "xbzrle-cache-size": 67108864,
                 "max-postcopy-bandwidth": 0, "max-cpu-throttle": 99, "multifd-compression": "none",
                 "multifd-zlib-level": 1, "multifd-qatzip-level": 1, "multifd-zstd-level": 1,
                 "x-vcpu-dirty-limit-period": 1000, "vcpu-dirty-limit": 1, "mode": "normal",
                 "zero-page-detection": "multifd", "direct-io": false}"""));
        // What libvirt sends before a plain migration: empty TLS strings mean "no TLS".
        src.exec("migrate-set-parameters", "{\"tls-creds\": \"\", \"tls-hostname\": \"\", \"tls-authz\": null, "
                + "\"max-bandwidth\": -1, \"multifd-channels\": 4, \"multifd-compression\": \"zstd\", "
                + "\"multifd-zstd-level\": 3, \"xbzrle-cache-size\": 1048576, \"announce-rounds\": 0, "
                + "\"max-postcopy-bandwidth\": 1000, \"zero-page-detection\": \"legacy\", \"mode\": \"normal\", "
                + "\"block-bitmap-mapping\": [{\"node-name\": \"disk0\", \"alias\": \"d\", \"bitmaps\": "
                + "[{\"name\": \"b0\", \"alias\": \"b\", \"transform\": {\"persistent\": true}}]}]}");
        JsonNode p = src.exec("query-migrate-parameters");
        assertThat(p.get("tls-creds").asText()).isEmpty();
        assertThat(p.get("max-bandwidth").toString()).as("QEMU's largest value").isEqualTo("18446744073709551615");
        assertThat(p.get("multifd-channels").asInt()).isEqualTo(4);
        assertThat(p.get("multifd-compression").asText()).isEqualTo("zstd");
        assertThat(p.get("multifd-zstd-level").asInt()).isEqualTo(3);
        assertThat(p.get("xbzrle-cache-size").asLong()).isEqualTo(1 << 20);
        assertThat(p.get("announce-rounds").asInt()).isZero();
        assertThat(p.get("zero-page-detection").asText()).isEqualTo("legacy");
        assertThat(p.get("block-bitmap-mapping").get(0).get("bitmaps").get(0).get("transform").get("persistent")
                .asBoolean()).isTrue();
        // The value query-migrate-parameters printed is accepted back.
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 18446744073709551615}");
        assertError(src, "migrate-set-parameters", "{\"multifd-channels\": 0}",
                "Parameter 'multifd_channels' expects a value between 1 and 255");
        assertError(src, "migrate-set-parameters", "{\"multifd-channels\": 256}", "Parameter 'multifd-channels' expects uint8_t");
        assertError(src, "migrate-set-parameters", "{\"multifd-compression\": \"qpl\"}",
                "Parameter 'multifd-compression' does not accept value 'qpl'");
        assertError(src, "migrate-set-parameters", "{\"zero-page-detection\": \"all\"}",
                "Parameter 'zero-page-detection' does not accept value 'all'");
        assertError(src, "migrate-set-parameters", "{\"xbzrle-cache-size\": 1000}",
                "Parameter 'xbzrle_cache_size' expects a power of two no less than the target page size");
        assertError(src, "migrate-set-parameters", "{\"downtime-limit\": -1}",
                "Parameter 'downtime_limit' expects an integer in the range of 0 to 2000000 ms");
        assertThat(src.exec("query-migrate-parameters").get("multifd-channels").asInt()).as("refusals changed nothing")
                .isEqualTo(4);
        // Accepted parameters that ask for what converge does not do refuse the migration, naming it.
        src.exec("migrate-set-parameters", "{\"mode\": \"cpr-reboot\"}");
        assertError(src, "migrate", "{\"uri\": \"tcp:127.0.0.1:1\"}",
                "Migration mode 'cpr-reboot' is not supported by converge (only 'normal')");
        src.exec("migrate-set-parameters", "{\"mode\": \"normal\", \"tls-creds\": \"tls0\"}");
        assertError(src, "migrate", "{\"uri\": \"tcp:127.0.0.1:1\"}",
                "No TLS credentials with id 'tls0'");
        src.exec("migrate-set-parameters", "{\"tls-creds\": null}");
        assertThat(src.exec("query-migrate-parameters").get("tls-creds").asText()).as("null is \"\"").isEmpty();
    }

    @Test
    void capabilitiesListQemusAndRefuseTheUnimplementedByName() {
        Peer src = source("memory=16M,vcpus=1,workload=idle");
        JsonNode caps = src.exec("query-migrate-capabilities");
        assertThat(caps).hasSize(23);
        assertThat(caps.get(0).get("capability").asText()).isEqualTo("xbzrle");
        assertThat(caps.get(22).get("capability").asText()).isEqualTo("x-converge-verify");
        assertThat(caps.get(22).get("state").asBoolean()).isTrue();
        assertError(src, "migrate-set-capabilities", "{\"capabilities\": [{\"capability\": \"events\", \"state\": true}, "
                + "{\"capability\": \"xbzrle\", \"state\": true}]}",
                "Migration capability 'xbzrle' is not supported by converge (XOR-based zero-run-length encoding of "
                        + "re-sent pages is not implemented)");
        assertThat(src.exec("query-migrate-capabilities").get(4).get("state").asBoolean())
                .as("the refused command turned nothing on").isFalse();
        src.exec("migrate-set-capabilities", "{\"capabilities\": [{\"capability\": \"xbzrle\", \"state\": false}]}");
    }

    @Test
    void qmpArgumentErrorsUseQemusMessages() {
        Peer src = source("memory=16M,vcpus=1,workload=idle");
        Peer dst = destination("memory=16M,vcpus=1,workload=idle", false);
        assertError(src, "migrate", "{}", "need either 'uri' or 'channels' argument");
        assertError(src, "migrate", "{\"uri\": \"tcp:127.0.0.1:1\", \"channels\": []}",
                "need either 'uri' or 'channels' argument");
        assertError(src, "migrate", "{\"uri\": \"exec:cat\"}", "unknown migration protocol: exec:cat");
        assertError(src, "migrate-set-capabilities", "{\"capabilities\": [{\"capability\": \"x\", \"state\": true}]}",
                "Parameter 'capability' does not accept value 'x'");
        assertError(src, "migrate-set-parameters", "{\"downtime-limit\": 2000001}",
                "Parameter 'downtime_limit' expects an integer in the range of 0 to 2000000 ms");
        assertError(src, "migrate-set-parameters", "{\"cpu-throttle-initial\": 0}",
                "Parameter 'cpu_throttle_initial' expects an integer in the range of 1 to 99");
        assertError(src, "migrate-set-parameters", "{\"cpu-throttle-increment\": 100}",
                "Parameter 'cpu_throttle_increment' expects an integer in the range of 1 to 99");
        assertError(src, "migrate-set-parameters", "{\"max-cpu-throttle\": 100}",
                "Parameter 'max_cpu_throttle' expects an integer in the range of cpu_throttle_initial to 99");
        assertError(src, "migrate-set-parameters", "{\"cpu-throttle-initial\": 50, \"max-cpu-throttle\": 40}",
                "Parameter 'max_cpu_throttle' expects an integer in the range of cpu_throttle_initial to 99");
        assertError(src, "migrate-set-parameters", "{\"vcpu-dirty-limit\": 0}",
                "Parameter 'vcpu_dirty_limit' must be greater than 1 MB/s");
        assertError(src, "migrate-set-parameters", "{\"x-vcpu-dirty-limit-period\": 0}",
                "Parameter 'x-vcpu-dirty-limit-period' expects a value between 1 and 1000");
        assertError(src, "migrate-set-capabilities", "{\"capabilities\": [{\"capability\": \"auto-converge\", "
                + "\"state\": true}, {\"capability\": \"dirty-limit\", \"state\": true}]}",
                "dirty-limit conflicts with auto-converge either of then available currently");
        assertError(src, "migrate-set-parameters", "{\"throttle-trigger-threshold\": 101}",
                "Parameter 'throttle_trigger_threshold' expects an integer in the range of 1 to 100");
        // One bad value refuses the whole command: the good one next to it is not applied.
        assertError(src, "migrate-set-parameters", "{\"downtime-limit\": 100, \"max-cpu-throttle\": 0}",
                "Parameter 'max_cpu_throttle' expects an integer in the range of cpu_throttle_initial to 99");
        assertError(src, "migrate-continue", "{\"state\": \"pre-switchover\"}", "Migration not in expected state: none");
        assertError(src, "migrate-incoming", "{\"uri\": \"tcp:127.0.0.1:0\"}",
                "'-incoming' was not specified on the command line");
        assertError(dst, "migrate-incoming", "{\"uri\": \"tcp:127.0.0.1:0\"}", "The incoming migration has already been started");
        assertError(dst, "migrate", "{\"uri\": \"tcp:127.0.0.1:1\"}", "Guest is waiting for an incoming migration");
        assertError(src, "migrate", "{\"channels\": [{\"channel-type\": \"main\", \"addr\": {\"transport\": \"socket\", "
                + "\"type\": \"inet\", \"host\": \"127.0.0.1\", \"port\": \"x\"}}]}",
                "address resolution failed for 127.0.0.1:x: Servname not supported for ai_socktype");
        assertError(src, "migrate", "{\"uri\": \"tcp:::1:4444\"}",
                "error parsing address '::1:4444': put an IPv6 host in brackets, as [::1]:4444");

        JsonNode caps = src.exec("query-migrate-capabilities");
        assertThat(caps.findValuesAsText("capability")).contains("auto-converge", "dirty-limit", "events", "pause-before-switchover", "return-path");
        JsonNode params = src.exec("query-migrate-parameters");
        assertThat(params.get("downtime-limit").asLong()).isEqualTo(300);
        assertThat(params.get("max-bandwidth").asLong()).isEqualTo(134217728);
        assertThat(params.get("avail-switchover-bandwidth").asLong()).isZero();
        assertThat(params.get("downtime-limit").asLong()).as("unchanged by the refused commands").isEqualTo(300);
        assertThat(params.get("cpu-throttle-initial").asInt()).isEqualTo(20);
        assertThat(params.get("cpu-throttle-increment").asInt()).isEqualTo(10);
        assertThat(params.get("max-cpu-throttle").asInt()).isEqualTo(99);
        assertThat(params.get("throttle-trigger-threshold").asInt()).isEqualTo(50);
        assertThat(params.get("cpu-throttle-tailslow").asBoolean()).isFalse();
        assertThat(params.get("vcpu-dirty-limit").asLong()).isEqualTo(1);
        assertThat(params.get("x-vcpu-dirty-limit-period").asLong()).isEqualTo(1000);
        for (JsonNode c : src.exec("query-migrate-capabilities")) {
            assertThat(c.get("state").asBoolean()).as("%s after the refused change", c.get("capability"))
                    .isEqualTo(c.get("capability").asText().equals("x-converge-verify")); // the only one on by default
        }
        assertThat(src.exec("query-migrate")).as("no migration yet").isEmpty();

        // A migration in progress refuses a second one and capability changes; channels work as uri.
        src.exec("migrate-set-parameters", "{\"max-bandwidth\": 1048576}");
        String[] hp = dst.listeningUri().substring(4).split(":");
        // auto-complete false: an idle guest converges at once, and the migration must still run below.
        src.exec("migrate", "{\"auto-complete\": false, \"channels\": [{\"channel-type\": \"main\", \"addr\": {"
                + "\"transport\": \"socket\", \"type\": \"inet\", \"host\": \"" + hp[0] + "\", \"port\": \"" + hp[1]
                + "\"}}]}");
        assertError(src, "migrate", "{\"uri\": \"tcp:127.0.0.1:1\"}", "There's a migration process in progress");
        assertError(src, "migrate-set-capabilities", "{\"capabilities\": [{\"capability\": \"events\", \"state\": true}]}",
                "There's a migration process in progress");
        src.exec("migrate_cancel");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("cancelled"));
        src.exec("migrate_cancel"); // nothing running: no error, as QEMU
    }

    @Test
    void daemonWithoutMachineAnswersQueryStatusAndRefusesMigrate() {
        Peer p = peer(MachineConfig.none());
        assertThat(p.exec("query-status").get("status").asText()).isEqualTo("running");
        assertError(p, "migrate", "{\"uri\": \"tcp:127.0.0.1:1\"}",
                "No machine to migrate: converged was started without --machine");
    }

    private static void assertError(Peer p, String command, String args, String message) {
        assertThatThrownBy(() -> p.exec(command, args)).isInstanceOf(QmpCommandException.class)
                .satisfies(e -> assertThat(((QmpCommandException) e).desc()).contains(message));
    }
}
