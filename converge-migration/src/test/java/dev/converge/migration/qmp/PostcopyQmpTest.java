package dev.converge.migration.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.PatternWorkload;
import dev.converge.qmp.client.QmpCommandException;
import dev.converge.qmp.schema.SchemaValidator;
import dev.converge.testing.FaultProxy;
import dev.converge.testing.TestTimeouts;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Postcopy between two daemons in-process, driven through QMP: machines that never converge at a
 * 50 ms downtime limit switch to postcopy after their first pass and complete; the destination
 * holds the source's RAM of the moment it stopped; its vCPUs run meanwhile and never read a page
 * that has not arrived; a connection that breaks (or is paused on purpose) recovers over a new
 * one with nothing lost; every verb in every postcopy state gets QEMU's answer.
 */
@Tag("integration")
class PostcopyQmpTest {
    /** Unpaced writes over all of RAM: far more than the capped link carries, so it never converges. */
    private static final String STRESS = "memory=64M,vcpus=2,workload=stress";
    private static final String PATTERN = "memory=64M,vcpus=2,workload=pattern";
    /**
     * Paced at the link's rate ({@link #PACED_LINK}: it never converges); its sweep over RAM takes
     * seconds, so postcopy (at 4 MiB/s in the background) lasts a while.
     */
    private static final String PACED_PATTERN = "memory=32M,vcpus=2,workload=pattern,dirty-rate=16M";
    private static final String PACED_LINK = "{\"max-bandwidth\": 16777216, \"max-postcopy-bandwidth\": 4194304}";
    private final List<AutoCloseable> closing = new ArrayList<>();
    @RegisterExtension
    final PeerDiagnostics diagnostics = new PeerDiagnostics();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
    }

    private Peer peer(MachineConfig config) {
        Peer p = diagnostics.watch(new Peer(config));
        closing.add(p);
        return p;
    }

    private Peer source(String spec) {
        return source(spec, false);
    }

    /** A source; {@code preempt}: with postcopy-preempt (on both sides). */
    private Peer source(String spec, boolean preempt) {
        Peer p = peer(MachineConfig.of("src", MachineSpec.parse(spec)));
        p.capabilities(preempt ? new String[] {"events", "postcopy-ram", "postcopy-preempt"} : new String[] {"events", "postcopy-ram"});
        // Not converging at 50 ms: the link is capped far below what the guest dirties.
        p.exec("migrate-set-parameters", "{\"downtime-limit\": 50, \"max-bandwidth\": 33554432}");
        return p;
    }

    private Peer destination(String spec, boolean startPaused) {
        return destination(spec, startPaused, false);
    }

    private Peer destination(String spec, boolean startPaused, boolean preempt) {
        // -incoming defer, so that postcopy-preempt can be set before the incoming migration starts (as QEMU).
        Peer p = peer(MachineConfig.of("dst", MachineSpec.parse(spec)).withIncoming("defer").withStartPaused(startPaused));
        p.capabilities(preempt ? new String[] {"events", "postcopy-ram", "postcopy-preempt"} : new String[] {"events", "postcopy-ram"});
        p.exec("migrate-incoming", "{\"uri\": \"tcp:127.0.0.1:0\"}");
        return p;
    }

    private static JsonNode queryMigrate(Peer p) {
        JsonNode info = p.exec("query-migrate");
        SchemaValidator.validate(MigrationQmp.INFO, info);
        return info;
    }

    /** migrate, then migrate-start-postcopy after the first pass; returns once the source is in postcopy. */
    private static void migrateIntoPostcopy(Peer src, String uri) {
        migrateIntoPostcopy(src, uri, "migrate-start-postcopy", null);
    }

    /** As {@link #migrateIntoPostcopy(Peer, String)}, switching with {@code command} {@code args}. */
    private static void migrateIntoPostcopy(Peer src, String uri, String command, String args) {
        src.exec("migrate", "{\"uri\": \"" + uri + "\"}");
        src.client().awaitEvent("MIGRATION_PASS", TestTimeouts.LONG);
        src.exec(command, args);
        src.awaitMigration("postcopy-active");
    }

    private static String error(Peer p, String command, String args) {
        Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> p.exec(command, args));
        assertThat(t).as(command + " must be refused").isInstanceOf(QmpCommandException.class);
        return ((QmpCommandException) t).desc();
    }

    @Test
    void aMachineThatNeverConvergesCompletesThroughPostcopyWithTheSourcesRamAtTheStop() {
        Peer src = source(STRESS);
        Peer dst = destination(STRESS, true); // -S: the guest does not run, so its RAM stays the source's
        // job-change is the job's own way to say migrate-start-postcopy.
        migrateIntoPostcopy(src, dst.listeningUri(), "job-change",
                "{\"id\": \"migration\", \"type\": \"migration\", \"start-postcopy\": true}");
        src.awaitMigration("completed");
        dst.awaitMigration("completed");

        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
        assertThat(src.status()).isEqualTo("postmigrate");
        assertThat(dst.status()).isEqualTo("paused");
        JsonNode info = queryMigrate(src);
        assertThat(info.get("status").asText()).isEqualTo("completed");
        assertThat(info.get("ram").get("postcopy-bytes").asLong()).isGreaterThan(0);
        assertThat(info.get("downtime").asLong()).isGreaterThanOrEqualTo(0);
    }

    @ParameterizedTest(name = "postcopy-preempt {0}")
    @ValueSource(booleans = {false, true})
    void theDestinationRunsDuringPostcopyAndNoVcpuEverReadsAMissingPage(boolean preempt) {
        Peer src = source(PACED_PATTERN, preempt);
        Peer dst = destination(PACED_PATTERN, false, preempt);
        src.exec("migrate-set-parameters", PACED_LINK);
        PatternWorkload srcWork = (PatternWorkload) src.machine().workload();
        // Every page written once (32 MiB is 8192 pages), so that postcopy has all of RAM to bring.
        await().atMost(TestTimeouts.MEDIUM).until(() -> srcWork.progress() > 8192 + 1000);
        migrateIntoPostcopy(src, dst.listeningUri());
        dst.awaitMigration("postcopy-active");
        long atStop = srcWork.progress(); // the source has been stopped since the switch

        // The workload runs here while pages still travel: its counter advances in postcopy-active
        // (the status is read after the counter, and statuses only move on).
        PatternWorkload dstWork = (PatternWorkload) dst.machine().workload();
        await().atMost(TestTimeouts.SHORT).until(() -> dstWork.progress() > atStop + 100);
        assertThat(dst.migrationStatus()).isEqualTo("postcopy-active");
        dst.awaitMigration("completed");
        src.awaitMigration("completed");
        assertThat(srcWork.progress()).as("the source stays stopped").isEqualTo(atStop);
        long atEnd = dstWork.progress();
        await().atMost(TestTimeouts.SHORT).until(() -> dstWork.progress() > atEnd + 1000);
        assertThat(dstWork.violations()).as(dstWork.firstViolation().orElse("no violation")).isZero();
        JsonNode in = queryMigrate(dst);
        assertThat(in.get("x-postcopy-requests").asLong()).as("the vCPUs ran into missing pages").isPositive();
        assertThat(in.get("x-postcopy-latency-p50").asLong()).isPositive();
        assertThat(in.has("postcopy-latency")).as("QEMU's members need the capability postcopy-blocktime").isFalse();
        assertThat(in.has("postcopy-blocktime")).isFalse();
        if (preempt) {
            assertThat(in.get("x-postcopy-preempt-pages").asLong()).as("requested pages came over the preempt channel")
                    .isPositive();
        } else {
            assertThat(in.get("x-postcopy-preempt-pages").asLong()).isZero();
        }
        assertThat(queryMigrate(src).get("ram").get("postcopy-requests").asLong()).isPositive();
        dst.exec("stop");
        assertThat(dstWork.checkInvariant(dst.machine().ram().blocks().get(0))).isEmpty();
    }

    @Test
    void stopOnTheDestinationReturnsWhileAVcpuWaitsForAPageAndContResumesIt() {
        Peer src = source(PATTERN);
        Peer dst = destination(PATTERN, false);
        dst.capabilities("postcopy-blocktime");
        PatternWorkload srcWork = (PatternWorkload) src.machine().workload();
        await().atMost(TestTimeouts.SHORT).until(() -> srcWork.progress() > 1000);
        src.exec("migrate-set-parameters", "{\"max-postcopy-bandwidth\": 4194304}");
        migrateIntoPostcopy(src, dst.listeningUri());
        dst.awaitMigration("postcopy-active");
        dst.exec("migrate-pause"); // no page arrives any more: a vCPU that touches a missing one waits
        src.awaitMigration("postcopy-paused");
        dst.awaitMigration("postcopy-paused");
        dev.converge.migration.postcopy.PageStates states = dst.module.incoming().postcopy().orElseThrow().states();
        await().atMost(TestTimeouts.MEDIUM).until(() -> states.waiting() > 0);

        dst.exec("stop"); // returns: the waiting vCPU is out of guest code
        assertThat(dst.status()).isEqualTo("paused");
        PatternWorkload dstWork = (PatternWorkload) dst.machine().workload();
        long stoppedAt = dstWork.progress();
        recover(src, dst);
        src.awaitMigration("completed");
        dst.awaitMigration("completed");
        assertThat(states.waiting()).isZero();
        assertThat(dstWork.progress()).as("no vCPU of a stopped machine goes on").isEqualTo(stoppedAt);

        JsonNode in = queryMigrate(dst);
        assertThat(in.get("postcopy-vcpu-blocktime")).hasSize(2);
        long blocked = 0;
        for (JsonNode ms : in.get("postcopy-vcpu-blocktime")) {
            blocked += ms.asLong();
        }
        assertThat(blocked).as("a vCPU waited through the pause").isPositive();
        assertThat(in.get("postcopy-blocktime").asLong()).isLessThanOrEqualTo(blocked);
        assertThat(in.get("postcopy-latency").asLong()).isPositive();
        assertThat(in.get("postcopy-vcpu-latency")).hasSize(2);
        assertThat(in.get("postcopy-latency-dist")).isNotEmpty();
        assertThat(in.has("postcopy-non-vcpu-latency")).isTrue();

        dst.exec("cont");
        await().atMost(TestTimeouts.SHORT).until(() -> dstWork.progress() > stoppedAt + 1000);
        assertThat(dstWork.violations()).as(dstWork.firstViolation().orElse("no violation")).isZero();
        dst.exec("stop");
        assertThat(dstWork.checkInvariant(dst.machine().ram().blocks().get(0))).isEmpty();
    }

    @Test
    void cancelAndBadRequestsInEveryPostcopyStateGetQemusErrors() throws Exception {
        Peer src = source(STRESS);
        Peer dst = destination(STRESS, true);
        src.exec("migrate-set-parameters", "{\"max-postcopy-bandwidth\": 4194304}");
        migrateIntoPostcopy(src, dst.listeningUri());
        dst.awaitMigration("postcopy-active");
        assertBadRequestsInPostcopy(src, dst, "postcopy-active");
        assertThat(error(src, "migrate", "{\"uri\": \"tcp:127.0.0.1:1\", \"resume\": true}"))
                .isEqualTo("Cannot resume if there is no paused migration");
        assertThat(error(dst, "migrate-recover", "{\"uri\": \"tcp:127.0.0.1:0\"}"))
                .isEqualTo("Migrate recover can only be run when postcopy is paused.");

        src.exec("migrate-pause");
        src.awaitMigration("postcopy-paused");
        dst.awaitMigration("postcopy-paused");
        assertBadRequestsInPostcopy(src, dst, "postcopy-paused");
        assertThat(error(src, "migrate-pause", null))
                .isEqualTo("migrate-pause is currently only supported during postcopy-active or postcopy-recover state");
        assertThat(error(dst, "migrate-pause", null))
                .isEqualTo("migrate-pause is currently only supported during postcopy-active or postcopy-recover state");
        // A recovery to where nobody listens: the command is accepted (as QEMU's), the connect fails, paused again.
        src.exec("migrate", "{\"uri\": \"unix:" + java.nio.file.Path.of(System.getProperty("java.io.tmpdir"),
                "converge-nobody-" + ProcessHandle.current().pid() + ".sock") + "\", \"resume\": true}");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.migrationStatus().equals("postcopy-paused")
                && queryMigrate(src).path("error-desc").asText().startsWith("Failed to connect"));
        // Take that attempt's postcopy-paused event, so that the wait after the next migrate-pause
        // cannot match it and return before the source is paused again.
        src.awaitMigration("postcopy-paused");

        // A peer that accepts the connection and never answers: the source waits in postcopy-recover.
        try (java.nio.channels.ServerSocketChannel silent = java.nio.channels.ServerSocketChannel.open()
                .bind(new InetSocketAddress("127.0.0.1", 0))) {
            int port = ((InetSocketAddress) silent.getLocalAddress()).getPort();
            src.exec("migrate", "{\"uri\": \"tcp:127.0.0.1:" + port + "\", \"resume\": true}");
            src.awaitMigration("postcopy-recover");
            assertBadRequestsInPostcopy(src, null, "postcopy-recover");
            assertThat(error(src, "migrate", "{\"uri\": \"tcp:127.0.0.1:1\", \"resume\": true}"))
                    .isEqualTo("Cannot resume if there is no paused migration");
            src.exec("migrate-pause"); // allowed in postcopy-recover: back to paused
            src.awaitMigration("postcopy-paused");
        }
        recover(src, dst);
        assertCompletedWithTheSourcesRam(src, dst);
        assertThat(error(src, "migrate-pause", null))
                .isEqualTo("migrate-pause is currently only supported during postcopy-active or postcopy-recover state");
        assertThat(error(src, "migrate", "{\"uri\": \"tcp:127.0.0.1:1\", \"resume\": true}"))
                .isEqualTo("Cannot resume if there is no paused migration");
    }

    /** What every postcopy state of the source refuses, and the destination's (null: not checked) too. */
    private static void assertBadRequestsInPostcopy(Peer src, Peer dst, String state) {
        assertThat(src.migrationStatus()).isEqualTo(state);
        assertPostcopyRefusesCancel(src);
        assertThat(error(src, "migrate", "{\"uri\": \"tcp:127.0.0.1:1\"}")).as(state)
                .isEqualTo("There's a migration process in progress");
        assertThat(error(src, "migrate-set-capabilities", "{\"capabilities\": [{\"capability\": \"postcopy-ram\", "
                + "\"state\": false}]}")).as(state).isEqualTo("There's a migration process in progress");
        assertThat(error(src, "job-finalize", "{\"id\": \"migration\"}")).as(state)
                .isEqualTo("Job 'migration' in state 'running' cannot accept command verb 'finalize'");
        if (dst != null) {
            assertThat(error(dst, "migrate-incoming", "{\"uri\": \"tcp:127.0.0.1:0\"}")).as(state)
                    .isEqualTo("The incoming migration has already been started");
            assertThat(error(dst, "migrate-start-postcopy", null)).as(state)
                    .isEqualTo("Postcopy must be started after migration has been started");
        }
    }

    @Test
    void commandsOutsidePostcopyGetQemusErrors() {
        Peer src = peer(MachineConfig.of("src", MachineSpec.parse(STRESS)));
        assertThat(error(src, "migrate-start-postcopy", null))
                .isEqualTo("Enable postcopy with migrate_set_capability before the start of migration");
        src.capabilities("postcopy-ram");
        assertThat(error(src, "migrate-start-postcopy", null))
                .isEqualTo("Postcopy must be started after migration has been started");
        assertThat(error(src, "migrate-pause", null))
                .isEqualTo("migrate-pause is currently only supported during postcopy-active or postcopy-recover state");
        assertThat(error(src, "migrate", "{\"uri\": \"tcp:127.0.0.1:1\", \"resume\": true}"))
                .isEqualTo("Cannot resume if there is no paused migration");
        Peer dst = destination(STRESS, true);
        assertThat(error(dst, "migrate-recover", "{\"uri\": \"tcp:127.0.0.1:0\"}"))
                .isEqualTo("Migrate recover can only be run when postcopy is paused.");
        assertThat(error(dst, "migrate-set-capabilities", "{\"capabilities\": [{\"capability\": \"postcopy-preempt\", "
                + "\"state\": true}]}")).isEqualTo("Postcopy preempt must be set before incoming starts");
        Peer plain = peer(MachineConfig.of("plain", MachineSpec.parse(STRESS)));
        assertThat(error(plain, "migrate-set-capabilities", "{\"capabilities\": [{\"capability\": \"postcopy-preempt\", "
                + "\"state\": true}]}")).isEqualTo("Postcopy preempt requires postcopy-ram");
    }

    @Test
    void aDestinationWithoutPostcopyPreemptRefusesTheSourcesPreemptChannelAndTheSourceRunsOn() {
        Peer src = source(STRESS, true);
        Peer dst = destination(STRESS, true, false);
        src.exec("migrate", "{\"uri\": \"" + dst.listeningUri() + "\"}");
        src.awaitMigration("failed");
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        assertThat(queryMigrate(dst).get("error-desc").asText()).contains("postcopy-preempt");
        assertThat(src.status()).isEqualTo("running");
        assertThat(dst.status()).isEqualTo("inmigrate");
    }

    @Test
    void aDestinationWithoutPostcopyRamRefusesTheStreamAtOnceAndTheSourceRunsOn() {
        Peer src = source(STRESS);
        Peer dst = peer(MachineConfig.of("dst", MachineSpec.parse(STRESS)).withIncoming("tcp:127.0.0.1:0")
                .withStartPaused(true));
        src.exec("migrate", "{\"uri\": \"" + dst.listeningUri() + "\"}");
        src.awaitMigration("failed");
        // The source may see the closed connection before the destination's reason arrives; the destination says why.
        await().atMost(TestTimeouts.MEDIUM).until(() -> dst.migrationStatus().equals("failed"));
        assertThat(queryMigrate(dst).get("error-desc").asText()).contains("postcopy-ram");
        assertThat(src.status()).isEqualTo("running");
        assertThat(dst.status()).isEqualTo("inmigrate");
    }

    @ParameterizedTest(name = "postcopy-preempt {0}")
    @ValueSource(booleans = {false, true})
    void aCutConnectionPausesBothSidesAndRecoveryOverANewOneCompletesWithNothingLost(boolean preempt) throws Exception {
        Peer src = source(STRESS, preempt);
        Peer dst = destination(STRESS, true, preempt);
        src.exec("migrate-set-parameters", "{\"max-postcopy-bandwidth\": 4194304}"); // postcopy lasts a while
        FaultProxy proxy = proxyTo(dst);
        migrateIntoPostcopy(src, proxy.uri());
        dst.awaitMigration("postcopy-active");
        assertProgressGrowsTowardsAFixedTotal(src);
        assertPostcopyRefusesCancel(src);
        assertThat(error(src, "migrate", "{\"uri\": \"tcp:127.0.0.1:1\", \"resume\": true}"))
                .isEqualTo("Cannot resume if there is no paused migration");
        assertThat(error(dst, "migrate-recover", "{\"uri\": \"tcp:127.0.0.1:0\"}"))
                .isEqualTo("Migrate recover can only be run when postcopy is paused.");

        assertThat(proxy.accepted()).as("the main stream and, with preempt, its preempt channel")
                .isEqualTo(preempt ? 2 : 1);

        proxy.drop();
        src.awaitMigration("postcopy-paused");
        dst.awaitMigration("postcopy-paused");
        assertPausedSides(src, dst);
        recover(src, dst);
        assertCompletedWithTheSourcesRam(src, dst);
    }

    @Test
    void aPausedPostcopyWithPreemptRecoversWithANewPreemptChannelAndTheRunningGuestReadsNoMissingPage() {
        Peer src = source(PATTERN, true);
        Peer dst = destination(PATTERN, false, true);
        PatternWorkload srcWork = (PatternWorkload) src.machine().workload();
        await().atMost(TestTimeouts.SHORT).until(() -> srcWork.progress() > 1000);
        src.exec("migrate-set-parameters", "{\"max-postcopy-bandwidth\": 4194304}");
        migrateIntoPostcopy(src, dst.listeningUri());
        dst.awaitMigration("postcopy-active");
        src.exec("migrate-pause");
        src.awaitMigration("postcopy-paused");
        dst.awaitMigration("postcopy-paused");
        long before = queryMigrate(dst).get("x-postcopy-preempt-pages").asLong();
        recover(src, dst); // the rest unpaced; the running vCPUs request what they touch first
        src.awaitMigration("completed");
        dst.awaitMigration("completed");

        JsonNode in = queryMigrate(dst);
        assertThat(in.get("x-postcopy-preempt-pages").asLong()).as("requested pages came over the new preempt channel")
                .isGreaterThan(before);
        PatternWorkload dstWork = (PatternWorkload) dst.machine().workload();
        long done = dstWork.progress();
        await().atMost(TestTimeouts.SHORT).until(() -> dstWork.progress() > done + 1000);
        assertThat(dstWork.violations()).as(dstWork.firstViolation().orElse("no violation")).isZero();
        dst.exec("stop");
        assertThat(dstWork.checkInvariant(dst.machine().ram().blocks().get(0))).isEmpty();
    }

    @Test
    void migratePauseOnTheDestinationPausesBothAndRecoveryCompletes() {
        Peer src = source(STRESS);
        Peer dst = destination(STRESS, true);
        src.exec("migrate-set-parameters", "{\"max-postcopy-bandwidth\": 4194304}");
        migrateIntoPostcopy(src, dst.listeningUri());
        dst.awaitMigration("postcopy-active");
        dst.exec("migrate-pause");
        src.awaitMigration("postcopy-paused");
        dst.awaitMigration("postcopy-paused");
        assertPausedSides(src, dst);
        recover(src, dst, false); // still slow: there is time to pause again
        src.awaitMigration("postcopy-active");
        // And once more, paused from the source this time.
        src.exec("migrate-pause");
        src.awaitMigration("postcopy-paused");
        dst.awaitMigration("postcopy-paused");
        recover(src, dst);
        assertCompletedWithTheSourcesRam(src, dst);
    }

    private FaultProxy proxyTo(Peer dst) throws Exception {
        String[] hostPort = dst.listeningUri().substring(4).split(":");
        FaultProxy proxy = FaultProxy.to(new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1])));
        closing.add(proxy);
        return proxy;
    }

    /** The job stays running in postcopy; current-progress grows, total-progress stays (the source dirties nothing). */
    private static void assertProgressGrowsTowardsAFixedTotal(Peer src) {
        JsonNode before = src.exec("query-jobs").get(0);
        assertThat(before.get("status").asText()).isEqualTo("running");
        assertThat(before.get("migration-status").asText()).isEqualTo("postcopy-active");
        await().atMost(TestTimeouts.MEDIUM).until(() -> src.exec("query-jobs").get(0).get("current-progress").asLong()
                > before.get("current-progress").asLong());
        JsonNode after = src.exec("query-jobs").get(0);
        assertThat(after.get("total-progress").asLong()).isEqualTo(before.get("total-progress").asLong());
    }

    private static void assertPostcopyRefusesCancel(Peer src) {
        assertThat(error(src, "migrate_cancel", null)).isEqualTo("Postcopy migration in progress, cannot cancel.");
        assertThat(error(src, "job-cancel", "{\"id\": \"migration\"}"))
                .isEqualTo("Postcopy migration in progress, cannot cancel.");
        src.exec("migrate-start-postcopy"); // harmless, as QEMU
    }

    private static void assertPausedSides(Peer src, Peer dst) {
        assertPostcopyRefusesCancel(src);
        assertThat(queryMigrate(src).get("error-desc").asText()).isNotEmpty();
        assertThat(queryMigrate(dst).get("error-desc").asText()).isNotEmpty();
        assertThat(error(src, "migrate-pause", null))
                .isEqualTo("migrate-pause is currently only supported during postcopy-active or postcopy-recover state");
        assertThat(error(dst, "migrate-pause", null))
                .isEqualTo("migrate-pause is currently only supported during postcopy-active or postcopy-recover state");
        JsonNode job = src.exec("query-jobs").get(0);
        assertThat(job.get("status").asText()).isEqualTo("running");
        assertThat(job.get("migration-status").asText()).isEqualTo("postcopy-paused");
    }

    /** migrate-recover on the destination, migrate resume on the source, over a new direct connection. */
    private static void recover(Peer src, Peer dst) {
        recover(src, dst, true);
    }

    /** As {@link #recover(Peer, Peer)}; {@code fast}: the rest without max-postcopy-bandwidth. */
    private static void recover(Peer src, Peer dst, boolean fast) {
        if (fast) {
            src.exec("migrate-set-parameters", "{\"max-postcopy-bandwidth\": 0}");
        }
        dst.exec("migrate-recover", "{\"uri\": \"tcp:127.0.0.1:0\"}");
        String uri = recoveryUri(dst);
        src.exec("migrate", "{\"uri\": \"" + uri + "\", \"resume\": true}");
        src.awaitMigration("postcopy-recover");
    }

    /** Where migrate-recover listens: its port 0 is resolved in the destination's log-free way, query-migrate. */
    private static String recoveryUri(Peer dst) {
        return dst.module.incoming().recoveryAddress().map(a -> "tcp:" + a.getHostString() + ":" + a.getPort())
                .orElseThrow();
    }

    private static void assertCompletedWithTheSourcesRam(Peer src, Peer dst) {
        src.awaitMigration("completed");
        dst.awaitMigration("completed");
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
    }
}
