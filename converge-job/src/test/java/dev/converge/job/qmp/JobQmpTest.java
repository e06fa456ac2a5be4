package dev.converge.job.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.job.Job;
import dev.converge.job.JobContext;
import dev.converge.job.JobDriver;
import dev.converge.job.JobEngine;
import dev.converge.job.JobException;
import dev.converge.job.JobKind;
import dev.converge.job.JobOptions;
import dev.converge.job.JobStatus;
import dev.converge.qmp.Args;
import dev.converge.qmp.ErrorClass;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.Member;
import dev.converge.qmp.schema.ObjectType;
import dev.converge.qmp.schema.QmpDoc;
import dev.converge.testing.TestTimeouts;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Calls the registered handlers with argument objects and checks replies and events. */
class JobQmpTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One emitted event. */
    record Emitted(String event, ObjectNode data) {
    }

    private final MainLoop mainLoop = new MainLoop();
    private final JobEngine engine = new JobEngine(mainLoop);
    private final QmpRegistry registry = new QmpRegistry();
    private final List<Emitted> events = new ArrayList<>();
    private JobQmp qmp;

    /** A "demo" job: converges at once, reports a level, accepts job-change of "level". */
    /** The demo kind, declared once: its records carry the member names and docs. */
    static final JobKind<DemoChange, DemoInfo> DEMO = new JobKind<>("demo", DemoChange.class, DemoInfo.class);
    static final JobKind<Record, Record> OTHER = JobKind.plain("other");

    @QmpDoc("demo change")
    record DemoChange(@QmpDoc("the level") OptionalLong level) {
    }

    @QmpDoc("demo info")
    record DemoInfo(@QmpDoc("the level") long level, @QmpDoc("phases") List<String> phases) {
    }

    static final class DemoDriver implements JobDriver<DemoChange, DemoInfo> {
        volatile long level = 1;
        /** Whether a soft cancel stays soft (mirror-like); job-cancel must force anyway. */
        volatile boolean soft;
        final CountDownLatch ready = new CountDownLatch(1);

        @Override
        public void run(JobContext ctx) {
            ctx.progressRemaining(10);
            ctx.progressDone(4);
            ctx.setReady();
            ready.countDown();
            while (!ctx.completeRequested() && !ctx.cancelRequested()) {
                ctx.sleep(TestTimeouts.LONG);
            }
        }

        @Override
        public void complete() {
        }

        @Override
        public boolean cancel(boolean force) {
            return force || !soft;
        }

        @Override
        public void change(DemoChange options) {
            long v = options.level().orElse(level);
            if (v < 0) {
                throw JobException.generic("Parameter 'level' expects a non-negative integer");
            }
            level = v;
        }

        @Override
        public DemoInfo info() {
            return new DemoInfo(level, List.of("a", "b"));
        }
    }

    @BeforeEach
    void setUp() {
        qmp = new JobQmp(engine, registry, (name, data) -> {
            synchronized (events) {
                events.add(new Emitted(name, data));
            }
        });
        mainLoop.call(() -> {
            qmp.register();
            qmp.registerJobKind(DEMO);
            qmp.registerJobKind(OTHER);
            return null;
        });
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        mainLoop.call(() -> {
            for (Job j : engine.jobs()) {
                if (dev.converge.job.JobTables.accepts(dev.converge.job.JobVerb.CANCEL, j.status())) {
                    engine.cancel(j.id(), true); // leftovers of a failed test: end them fast
                }
            }
            return null;
        });
        assertThat(engine.awaitThreadsEnded(TestTimeouts.MEDIUM)).isTrue();
        mainLoop.close();
    }

    private JsonNode cmd(String name, String argsJson) {
        ObjectNode args;
        try {
            args = (ObjectNode) JSON.readTree(argsJson);
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
        return mainLoop.call(() -> registry.command(name).orElseThrow().handler().handle(new Args(args)));
    }

    private List<String> statusEvents(String id) {
        synchronized (events) {
            return events.stream().filter(e -> e.event().equals("JOB_STATUS_CHANGE")
                    && e.data().get("id").asText().equals(id)).map(e -> e.data().get("status").asText()).toList();
        }
    }

    /**
     * Waits until {@code j} is in {@code s} and its JOB_STATUS_CHANGE has been emitted: a status
     * set by a job thread (or a completion on the main loop) is announced just after the job lock
     * is released, so a test that reads the events must wait for the event, not only the status.
     */
    private void awaitAnnounced(Job j, JobStatus s) {
        await().atMost(TestTimeouts.SHORT).until(() -> {
            List<String> announced = statusEvents(j.id());
            return j.status() == s && !announced.isEmpty() && announced.getLast().equals(s.wireName());
        });
    }

    private Job startDemo(String id, JobOptions o, DemoDriver d) throws InterruptedException {
        Job j = mainLoop.call(() -> {
            Job job = engine.create(id, DEMO, d, o);
            engine.start(job);
            return job;
        });
        assertThat(d.ready.await(TestTimeouts.SHORT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        return j;
    }

    @Test
    void registersCommandsAndEvents() {
        assertThat(registry.commands()).extracting(c -> c.name()).containsExactly("query-jobs", "job-pause",
                "job-resume", "job-cancel", "job-complete", "job-finalize", "job-dismiss", "job-change");
        assertThat(registry.events()).extracting(e -> e.name()).containsExactly("JOB_STATUS_CHANGE",
                "JOB_INFO_CHANGE");
        ObjectType info = (ObjectType) ((ArrayType) registry.command("query-jobs").orElseThrow().returns()).element();
        assertThat(info.discriminator()).isEqualTo("type");
        assertThat(info.variants()).containsOnlyKeys("demo");
        assertThat(((EnumType) info.member("type").orElseThrow().type()).values()).containsExactly("demo", "other");
        ObjectType change = registry.command("job-change").orElseThrow().arguments();
        assertThat(change.member("type").orElseThrow().optional()).isTrue();
        assertThat(change.variants()).containsOnlyKeys("demo");
        assertThat(registry.command("job-pause").orElseThrow().since()).isEqualTo("0.1");
        assertThat(info.variants().get("demo")).isEqualTo(ObjectType.struct("JobInfoDemo", "demo info",
                Member.required("level", BuiltinType.INT, "the level"),
                Member.required("phases", new ArrayType(BuiltinType.STR), "phases")));
        assertThat(change.variants().get("demo")).isEqualTo(ObjectType.struct("JobChangeOptionsDemo", "demo change",
                Member.optional("level", BuiltinType.INT, "the level")));
        assertThatThrownBy(() -> qmp.registerJobKind(JobKind.plain("demo")))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void queryJobsShowsGenericAndDriverMembers() throws InterruptedException {
        DemoDriver d = new DemoDriver();
        startDemo("d1", JobOptions.defaults(), d);
        JsonNode reply = cmd("query-jobs", "{}");
        assertThat(reply.toString()).isEqualTo("[{\"id\":\"d1\",\"type\":\"demo\",\"status\":\"ready\","
                + "\"current-progress\":4,\"total-progress\":10,\"level\":1,\"phases\":[\"a\",\"b\"]}]");
        cmd("job-cancel", "{\"id\":\"d1\"}");
        await().atMost(TestTimeouts.SHORT).until(() -> statusEvents("d1").contains("null"));
        assertThat(statusEvents("d1")).containsExactly("created", "running", "ready", "aborting", "concluded", "null");
        assertThat(cmd("query-jobs", "{}").size()).isZero();
    }

    @Test
    void verbsAndTheirErrors() throws InterruptedException {
        DemoDriver d = new DemoDriver();
        Job j = startDemo("d1", JobOptions.defaults().withAutoDismiss(false), d);
        assertThat(cmd("job-pause", "{\"id\":\"d1\"}")).isNull(); // null = {}
        awaitAnnounced(j, JobStatus.STANDBY);
        assertQmpError(() -> cmd("job-pause", "{\"id\":\"d1\"}"), ErrorClass.GenericError, "Job is already paused");
        cmd("job-resume", "{\"id\":\"d1\"}");
        assertQmpError(() -> cmd("job-resume", "{\"id\":\"d1\"}"), ErrorClass.GenericError,
                "Can't resume a job that was not paused");
        // The job leaves its pause point on its own thread, as in QEMU: standby → ready follows.
        awaitAnnounced(j, JobStatus.READY);
        assertQmpError(() -> cmd("job-pause", "{\"id\":\"nope\"}"), ErrorClass.GenericError, "Job not found");
        assertQmpError(() -> cmd("job-finalize", "{\"id\":\"d1\"}"), ErrorClass.GenericError,
                "Job 'd1' in state 'ready' cannot accept command verb 'finalize'");
        assertQmpError(() -> cmd("job-dismiss", "{\"id\":\"d1\"}"), ErrorClass.GenericError,
                "Job 'd1' in state 'ready' cannot accept command verb 'dismiss'");
        cmd("job-complete", "{\"id\":\"d1\"}");
        awaitAnnounced(j, JobStatus.CONCLUDED);
        cmd("job-dismiss", "{\"id\":\"d1\"}");
        assertThat(statusEvents("d1")).containsExactly("created", "running", "ready", "standby", "ready", "waiting",
                "pending", "concluded", "null");
    }

    @Test
    void jobCancelIsAForceCancelAndQueryShowsTheError() throws InterruptedException {
        DemoDriver d = new DemoDriver();
        d.soft = true;
        Job j = startDemo("d1", JobOptions.defaults().withAutoDismiss(false), d);
        cmd("job-cancel", "{\"id\":\"d1\"}");
        awaitAnnounced(j, JobStatus.CONCLUDED);
        assertThat(j.isCancelled()).isTrue();
        assertThat(cmd("query-jobs", "{}").get(0).get("error").asText()).isEqualTo("Operation canceled");
        assertThat(statusEvents("d1")).containsExactly("created", "running", "ready", "aborting", "concluded");
        cmd("job-dismiss", "{\"id\":\"d1\"}");
        assertQmpError(() -> cmd("job-dismiss", "{\"id\":\"d1\"}"), ErrorClass.GenericError, "Job not found");
    }

    @Test
    void jobFinalize() throws InterruptedException {
        DemoDriver d = new DemoDriver();
        Job j = startDemo("d1", JobOptions.defaults().withAutoFinalize(false), d);
        cmd("job-complete", "{\"id\":\"d1\"}");
        awaitAnnounced(j, JobStatus.PENDING);
        cmd("job-finalize", "{\"id\":\"d1\"}");
        // auto-dismiss: gone, and the events were emitted before the reply
        assertThat(statusEvents("d1")).endsWith("pending", "concluded", "null");
    }

    @Test
    void jobChange() throws InterruptedException {
        DemoDriver d = new DemoDriver();
        startDemo("d1", JobOptions.defaults(), d);
        cmd("job-change", "{\"id\":\"d1\",\"type\":\"demo\",\"level\":5}");
        assertThat(d.level).isEqualTo(5);
        cmd("job-change", "{\"id\":\"d1\",\"level\":6}"); // type from the job
        assertThat(d.level).isEqualTo(6);
        assertQmpError(() -> cmd("job-change", "{\"id\":\"d1\",\"type\":\"other\"}"), ErrorClass.GenericError,
                "Job 'd1' is 'demo' job, not 'other'");
        assertQmpError(() -> cmd("job-change", "{\"id\":\"d1\",\"speed\":1}"), ErrorClass.GenericError,
                "Parameter 'speed' is unexpected");
        assertQmpError(() -> cmd("job-change", "{\"id\":\"d1\",\"level\":-1}"), ErrorClass.GenericError,
                "Parameter 'level' expects a non-negative integer");
        assertThat(d.level).isEqualTo(6);
        assertQmpError(() -> cmd("job-change", "{\"id\":\"zz\",\"level\":1}"), ErrorClass.GenericError,
                "Job not found");
        cmd("job-cancel", "{\"id\":\"d1\"}");
        await().atMost(TestTimeouts.SHORT).until(() -> statusEvents("d1").contains("null"));
    }

    @Test
    void jobChangeOfATypeWithoutChangeIsRefused() {
        mainLoop.call(() -> engine.create("o1", OTHER, ctx -> { }, JobOptions.defaults()));
        assertQmpError(() -> cmd("job-change", "{\"id\":\"o1\"}"), ErrorClass.GenericError,
                "Job type does not support change");
        cmd("job-cancel", "{\"id\":\"o1\"}");
        assertThat(statusEvents("o1")).containsExactly("created", "aborting", "concluded", "null");
    }

    @Test
    void infoChangeEvent() throws InterruptedException {
        Job j = mainLoop.call(() -> {
            Job job = engine.create("i1", JobKind.plain("demo"), ctx -> ctx.infoChanged(), JobOptions.defaults());
            engine.start(job);
            return job;
        });
        awaitAnnounced(j, JobStatus.NULL);
        synchronized (events) {
            List<String> seq = events.stream().filter(e -> e.data().get("id").asText().equals("i1"))
                    .map(e -> e.event() + (e.data().has("status") ? ":" + e.data().get("status").asText() : ""))
                    .toList();
            assertThat(seq).containsExactly("JOB_STATUS_CHANGE:created", "JOB_STATUS_CHANGE:running",
                    "JOB_INFO_CHANGE", "JOB_STATUS_CHANGE:waiting", "JOB_STATUS_CHANGE:pending",
                    "JOB_STATUS_CHANGE:concluded", "JOB_STATUS_CHANGE:null");
        }
    }

    private static void assertQmpError(Runnable r, ErrorClass cls, String desc) {
        assertThatThrownBy(r::run).isInstanceOfSatisfying(QmpException.class, e -> {
            assertThat(e.errorClass()).isEqualTo(cls);
            assertThat(e.desc()).isEqualTo(desc);
        });
    }

    /** Through the real server: the validator checks job-change's type-specific options. */
    @Test
    void jobChangeOptionsAreValidatedByTheServerUsingTheJobsType() throws Exception {
        DemoDriver d = new DemoDriver();
        mainLoop.call(() -> {
            engine.start(engine.create("d1", DEMO, d, JobOptions.defaults()));
            return null;
        });
        assertThat(d.ready.await(TestTimeouts.SHORT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        try (dev.converge.testing.QmpTestServer server = dev.converge.testing.QmpTestServer.start(registry, mainLoop)) {
            var c = server.client();
            assertThatThrownBy(() -> c.execute("job-change", (ObjectNode) JSON.readTree("{\"id\":\"d1\",\"level\":\"high\"}")))
                    .hasMessageContaining("Invalid parameter type for 'level', expected: integer");
            assertThatThrownBy(() -> c.execute("job-change", (ObjectNode) JSON.readTree("{\"id\":\"d1\",\"color\":1}")))
                    .hasMessageContaining("Parameter 'color' is unexpected");
            assertThatThrownBy(() -> c.execute("job-change", (ObjectNode) JSON.readTree("{\"id\":\"ghost\",\"level\":1}")))
                    .hasMessageContaining("Job not found");
            c.execute("job-change", (ObjectNode) JSON.readTree("{\"id\":\"d1\",\"level\":7}"));
            assertThat(d.level).isEqualTo(7);
            c.execute("job-change", (ObjectNode) JSON.readTree("{\"id\":\"d1\",\"type\":\"demo\",\"level\":8}"));
            assertThat(d.level).isEqualTo(8);
        }
    }
}
