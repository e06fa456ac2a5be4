package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockBackend;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockNode;
import dev.converge.block.qmp.BlockQmp;
import dev.converge.block.qmp.MirrorQmp;
import dev.converge.job.JobEngine;
import dev.converge.job.qmp.JobQmp;
import dev.converge.qmp.Args;
import dev.converge.qmp.ErrorClass;
import dev.converge.qmp.EventSink;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.testing.TestTimeouts;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * A daemon's worth of wiring for mirror tests, without sockets: main loop, block graph, job
 * engine, JobQmp, BlockQmp, MirrorQmp and the image jobs (ImageJobsQmp) wired as the daemon
 * does, with events recorded. Public for the tests of the other block job kinds.
 */
public final class MirrorFixture implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    public final Path dir;
    public final MainLoop mainLoop;
    public final QmpRegistry registry = new QmpRegistry();
    public final Events events = new Events();
    public final BlockGraph graph;
    public final JobEngine engine;
    public final MirrorQmp mirror;
    public final dev.converge.block.qmp.BackupQmp backup;
    public final BlockQmp blockQmp;
    private final boolean ownsLoop;

    public MirrorFixture(Path dir) {
        this(dir, new MainLoop(), true, null);
    }

    /** Wiring on a given main loop with an extra sink (a QMP server) that also gets every event. */
    MirrorFixture(Path dir, MainLoop loop, boolean ownsLoop, EventSink also) {
        this.dir = dir;
        this.mainLoop = loop;
        this.ownsLoop = ownsLoop;
        EventSink sink = also == null ? events : (name, data) -> {
            events.emit(name, data);
            also.emit(name, data);
        };
        graph = new BlockGraph(mainLoop);
        engine = new JobEngine(mainLoop);
        blockQmp = new BlockQmp(graph);
        blockQmp.register(registry);
        JobQmp jobQmp = new JobQmp(engine, registry, sink);
        jobQmp.register();
        mirror = MirrorQmp.register(registry, sink, engine, jobQmp, graph);
        backup = dev.converge.block.qmp.BackupQmp.register(registry, engine, jobQmp, graph, blockQmp, mirror);
        dev.converge.block.qmp.ImageJobsQmp.register(registry, engine, jobQmp, graph, mirror);
    }

    /** Runs a command's handler on the main loop, as the server would (no schema validation). */
    public JsonNode qmp(String command, String argsJson) {
        ObjectNode args = (ObjectNode) parse(argsJson.replace('\'', '"'));
        return mainLoop.call(() -> registry.command(command).orElseThrow().handler().handle(new Args(args)));
    }

    public void fails(String command, String args, ErrorClass cls, String desc) {
        assertThatThrownBy(() -> qmp(command, args)).isInstanceOfSatisfying(QmpException.class, e -> {
            assertThat(e.desc()).isEqualTo(desc);
            assertThat(e.errorClass()).isEqualTo(cls);
        });
    }

    public void fails(String command, String args, String desc) {
        fails(command, args, ErrorClass.GenericError, desc);
    }

    public static JsonNode parse(String s) {
        try {
            return JSON.readTree(s);
        } catch (Exception e) {
            throw new IllegalArgumentException(s, e);
        }
    }

    /** A raw image file of {@code size} bytes, added as raw node {@code name} over a file node. */
    public String image(String name, long size) throws Exception {
        Path p = dir.resolve(name + ".raw");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        qmp("blockdev-add", "{'driver':'raw','node-name':'" + name + "','file':{'driver':'file','filename':'" + p
                + "'}}");
        return p.toString();
    }

    /** A blkdebug node {@code name} over {@code image} that injects the given errors (JSON objects, comma separated). */
    public void blkdebug(String name, String image, String rules) {
        qmp("blockdev-add", "{'driver':'blkdebug','node-name':'" + name + "','image':'" + image
                + "','inject-error':[" + rules + "]}");
    }

    /** How many events named {@code name} came so far. */
    public long count(String name) {
        return events.all().stream().filter(e -> e.name().equals(name)).count();
    }

    public BlockNode node(String name) {
        return mainLoop.call(() -> graph.find(name).orElseThrow());
    }

    /** Adds {@code node} (a test node built outside the graph) to the graph; returns it. */
    public <N extends BlockNode> N add(N node) {
        mainLoop.call(() -> {
            graph.addInternalNode(node);
            return null;
        });
        return node;
    }

    public BlockBackend attach(String device, String nodeName) {
        return mainLoop.call(() -> graph.attachBackend(device, graph.find(nodeName).orElseThrow()));
    }

    public static byte[] readAll(BlockNode n) throws Exception {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(n.size());
            n.read(0, s);
            return s.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    public static void write(BlockNode n, long offset, byte[] data) throws Exception {
        n.write(offset, MemorySegment.ofArray(data));
    }

    public JsonNode queryJob(String id) {
        for (JsonNode j : qmp("query-jobs", "{}")) {
            if (j.path("id").asText().equals(id)) {
                return j;
            }
        }
        return null;
    }

    @Override
    public void close() throws Exception {
        try {
            assertThat(engine.awaitThreadsEnded(TestTimeouts.MEDIUM)).as("job threads ended").isTrue();
        } finally {
            if (ownsLoop) {
                mainLoop.close();
            }
        }
    }

    /** Events in emission order; waits on a condition, never sleeps. */
    public static final class Events implements EventSink {
        public record Event(String name, ObjectNode data) {
            @Override
            public String toString() {
                return name + data;
            }
        }

        private final ReentrantLock lock = new ReentrantLock();
        private final Condition added = lock.newCondition();
        /** Guarded by lock. */
        private final List<Event> list = new ArrayList<>();

        @Override
        public void emit(String event, ObjectNode data) {
            lock.lock();
            try {
                list.add(new Event(event, data == null ? JSON.createObjectNode() : data.deepCopy()));
                added.signalAll();
            } finally {
                lock.unlock();
            }
        }

        public List<Event> all() {
            lock.lock();
            try {
                return List.copyOf(list);
            } finally {
                lock.unlock();
            }
        }

        /** The first event named {@code name} whose data matches, waiting up to {@code timeout}. */
        public Event await(String name, Predicate<ObjectNode> match, Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            lock.lock();
            try {
                for (;;) {
                    for (Event e : list) {
                        if (e.name().equals(name) && match.test(e.data())) {
                            return e;
                        }
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new AssertionError("no event " + name + " within " + timeout + "; got " + list);
                    }
                    added.awaitNanos(left);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            } finally {
                lock.unlock();
            }
        }

        public Event await(String name, String jobId) {
            return await(name, d -> jobId.equals(d.path("id").asText(d.path("device").asText())),
                    TestTimeouts.MEDIUM);
        }

        public Event awaitStatus(String jobId, String status) {
            return await("JOB_STATUS_CHANGE",
                    d -> jobId.equals(d.path("id").asText()) && status.equals(d.path("status").asText()),
                    TestTimeouts.MEDIUM);
        }

        /** "NAME" or "JOB_STATUS_CHANGE:status" for the events of one job, in order. */
        public List<String> trace(String jobId) {
            List<String> out = new ArrayList<>();
            for (Event e : all()) {
                String id = e.data().path("id").asText(e.data().path("device").asText());
                if (!id.equals(jobId)) {
                    continue;
                }
                out.add(e.name().equals("JOB_STATUS_CHANGE") ? e.data().path("status").asText() : e.name());
            }
            return out;
        }
    }
}
