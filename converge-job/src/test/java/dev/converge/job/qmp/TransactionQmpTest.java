package dev.converge.job.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.job.Job;
import dev.converge.job.JobDriver;
import dev.converge.job.JobEngine;
import dev.converge.job.JobOptions;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.Member;
import dev.converge.qmp.schema.ObjectType;
import dev.converge.testing.QmpTestServer;
import dev.converge.testing.TestTimeouts;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** transaction through the real server, with a test action that creates a job. */
class TransactionQmpTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final MainLoop mainLoop = new MainLoop();
    private final JobEngine engine = new JobEngine(mainLoop);
    private final QmpRegistry registry = new QmpRegistry();
    /** Per job id: released to let its run() end, or to fail. */
    private final Map<String, CountDownLatch> finish = new ConcurrentHashMap<>();
    private final List<String> commits = new CopyOnWriteArrayList<>();
    private final List<String> aborts = new CopyOnWriteArrayList<>();
    private QmpTestServer server;
    private QmpClient client;

    @BeforeEach
    void setUp() {
        server = QmpTestServer.start(registry, mainLoop);
        mainLoop.call(() -> {
            JobQmp jobs = new JobQmp(engine, registry, server.events());
            jobs.register();
            jobs.registerJobKind(dev.converge.job.JobKind.plain("demo"));
            TransactionQmp txn = new TransactionQmp(registry);
            txn.register();
            txn.registerAction("demo-job", ObjectType.struct("DemoJobArgs", null,
                    Member.required("id", BuiltinType.STR, "job id"),
                    Member.optional("fail", BuiltinType.BOOL, "whether run() fails")), (data, t) -> {
                        String id = data.get("id").asText();
                        boolean fail = data.path("fail").asBoolean(false);
                        CountDownLatch latch = new CountDownLatch(1);
                        Job job = mapped(() -> engine.create(id, dev.converge.job.JobKind.plain("demo"), driver(id, latch, fail),
                                JobOptions.defaults().withTxn(t)));
                        finish.put(id, latch);
                        return new TransactionQmp.Prepared() {
                            @Override
                            public void commit() {
                                engine.start(job);
                            }

                            @Override
                            public void abort() {
                                engine.cancel(id, true);
                            }
                        };
                    });
            return null;
        });
        client = server.client();
    }

    private static <T> T mapped(java.util.function.Supplier<T> s) {
        return JobQmp.mapped(s);
    }

    private JobDriver<Record, Record> driver(String id, CountDownLatch latch, boolean fail) {
        return new JobDriver<>() {
            @Override
            public void run(dev.converge.job.JobContext ctx) throws Exception {
                while (!latch.await(5, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                    ctx.checkpoint();
                }
                if (fail) {
                    throw new java.io.IOException(id + " broke");
                }
            }

            @Override
            public void commit() {
                commits.add(id);
            }

            @Override
            public void abort() {
                aborts.add(id);
            }
        };
    }

    @AfterEach
    void tearDown() throws Exception {
        finish.values().forEach(CountDownLatch::countDown);
        assertThat(engine.awaitThreadsEnded(TestTimeouts.MEDIUM)).isTrue();
        server.close();
        mainLoop.close();
    }

    private JsonNode transaction(String json) throws Exception {
        return client.execute("transaction", (ObjectNode) JSON.readTree(json));
    }

    @Test
    void anInvalidActionRefusesTheWholeTransactionBeforeAnyJobStarts() throws Exception {
        assertThatThrownBy(() -> transaction("""
                {"actions": [{"type": "demo-job", "data": {"id": "a"}},
                             {"type": "abort", "data": {}}]}"""))
                .hasMessageContaining("Transaction aborted using Abort action");
        await().atMost(TestTimeouts.SHORT).until(() -> client.execute("query-jobs").isEmpty());
        List<String> statuses = client.drainEvents().stream()
                .filter(e -> e.path("event").asText().equals("JOB_STATUS_CHANGE"))
                .map(e -> e.path("data").path("status").asText()).toList();
        assertThat(statuses).doesNotContain("running").contains("aborting");
        assertThat(commits).isEmpty();
    }

    @Test
    void aDuplicateJobIdInTheSameTransactionRefusesItAll() {
        assertThatThrownBy(() -> transaction("""
                {"actions": [{"type": "demo-job", "data": {"id": "a"}},
                             {"type": "demo-job", "data": {"id": "a"}}]}"""))
                .hasMessageContaining("Job ID 'a' already in use");
        await().atMost(TestTimeouts.SHORT).until(() -> client.execute("query-jobs").isEmpty());
    }

    @Test
    void unknownActionsAndBadDataAreRefusedByTheValidator() {
        assertThatThrownBy(() -> transaction("{\"actions\": [{\"type\": \"bogus\", \"data\": {}}]}"))
                .isInstanceOf(dev.converge.qmp.client.QmpCommandException.class)
                .hasMessageContaining("bogus");
        assertThatThrownBy(() -> transaction("{\"actions\": [{\"type\": \"demo-job\", \"data\": {\"id\": 5}}]}"))
                .hasMessageContaining("Invalid parameter type");
        assertThat(commits).isEmpty();
    }

    @Test
    void groupedJobsCommitTogether() throws Exception {
        transaction("""
                {"actions": [{"type": "demo-job", "data": {"id": "a"}},
                             {"type": "demo-job", "data": {"id": "b"}}],
                 "properties": {"completion-mode": "grouped"}}""");
        Job a = mainLoop.call(() -> engine.get("a"));
        assertThat(mainLoop.call(() -> engine.transactionPartners(a))).extracting(Job::id).containsExactly("b");
        finish.get("a").countDown();
        // a waits for b: the transaction is one unit.
        await().atMost(TestTimeouts.SHORT).until(() -> status("a").equals("waiting"));
        assertThat(commits).isEmpty();
        finish.get("b").countDown();
        await().atMost(TestTimeouts.SHORT).until(() -> client.execute("query-jobs").isEmpty());
        assertThat(commits).containsExactlyInAnyOrder("a", "b");
        assertThat(aborts).isEmpty();
    }

    @Test
    void inAGroupedTransactionOneFailureAbortsAll() throws Exception {
        transaction("""
                {"actions": [{"type": "demo-job", "data": {"id": "a"}},
                             {"type": "demo-job", "data": {"id": "b", "fail": true}}],
                 "properties": {"completion-mode": "grouped"}}""");
        finish.get("a").countDown();
        await().atMost(TestTimeouts.SHORT).until(() -> status("a").equals("waiting"));
        finish.get("b").countDown();
        await().atMost(TestTimeouts.SHORT).until(() -> client.execute("query-jobs").isEmpty());
        assertThat(aborts).containsExactlyInAnyOrder("a", "b");
        assertThat(commits).isEmpty();
    }

    @Test
    void individualJobsFinishOnTheirOwn() throws Exception {
        transaction("""
                {"actions": [{"type": "demo-job", "data": {"id": "a"}},
                             {"type": "demo-job", "data": {"id": "b", "fail": true}}]}""");
        Job a = mainLoop.call(() -> engine.get("a"));
        assertThat(mainLoop.call(() -> engine.transactionPartners(a))).isEmpty();
        finish.get("a").countDown();
        finish.get("b").countDown();
        await().atMost(TestTimeouts.SHORT).until(() -> client.execute("query-jobs").isEmpty());
        assertThat(commits).containsExactly("a");
        assertThat(aborts).containsExactly("b");
    }

    private String status(String id) {
        for (JsonNode j : client.execute("query-jobs")) {
            if (j.path("id").asText().equals(id)) {
                return j.path("status").asText();
            }
        }
        return "gone";
    }

}
