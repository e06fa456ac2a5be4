package dev.converge.migration.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockGraph;
import dev.converge.block.qmp.BlockQmp;
import dev.converge.job.JobEngine;
import dev.converge.job.qmp.JobQmp;
import dev.converge.migration.machine.Machine;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.client.QmpClient;
import dev.converge.testing.QmpTestServer;
import dev.converge.testing.TestTimeouts;
import java.util.function.Predicate;

/**
 * One in-process daemon for tests: a QMP server with the job engine, the block layer and the
 * migration module wired as the daemon wires them.
 */
final class Peer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    final QmpRegistry registry = new QmpRegistry();
    final QmpTestServer qmp;
    final JobEngine engine;
    final BlockGraph graph;
    final MigrationModule module;
    /** object-add's objects (tls-creds-x509, authz-*), as the daemon has them. */
    final dev.converge.qmp.objects.UserObjects objects = new dev.converge.qmp.objects.UserObjects();
    private boolean closed;

    Peer(MachineConfig config, String... blockdevs) {
        qmp = QmpTestServer.start(registry);
        try {
            engine = new JobEngine(qmp.mainLoop());
            JobQmp jobQmp = new JobQmp(engine, registry, qmp.events());
            jobQmp.register();
            graph = new BlockGraph(qmp.mainLoop());
            BlockQmp block = new BlockQmp(graph);
            block.register(registry);
            for (String b : blockdevs) {
                qmp.mainLoop().call(() -> block.blockdevAdd(BlockQmp.parseBlockdevJson(b)));
            }
            objects.register(registry);
            module = MigrationModule.install(registry, qmp.events(), qmp.mainLoop(), engine, jobQmp, graph, config, objects);
        } catch (RuntimeException e) {
            qmp.close();
            throw e;
        }
    }

    QmpClient client() {
        return qmp.client();
    }

    Machine machine() {
        return module.machine().orElseThrow();
    }

    /** Runs {@code command} with arguments given as JSON text (may be null). */
    JsonNode exec(String command, String args) {
        try {
            return args == null ? client().execute(command)
                    : client().execute(command, (ObjectNode) JSON.readTree(args));
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    JsonNode exec(String command) {
        return exec(command, null);
    }

    /** Turns capabilities on, e.g. "events", "pause-before-switchover". */
    void capabilities(String... names) {
        StringBuilder b = new StringBuilder("{\"capabilities\": [");
        for (int i = 0; i < names.length; i++) {
            b.append(i > 0 ? "," : "").append("{\"capability\": \"").append(names[i]).append("\", \"state\": true}");
        }
        exec("migrate-set-capabilities", b.append("]}").toString());
    }

    /** The tcp URI this destination listens on (query-migrate socket-address, for port 0). */
    String listeningUri() {
        JsonNode a = exec("query-migrate").get("socket-address").get(0);
        return "tcp:" + a.get("host").asText() + ":" + a.get("port").asText();
    }

    String status() {
        return exec("query-status").get("status").asText();
    }

    String migrationStatus() {
        return exec("query-migrate").path("status").asText("none");
    }

    /** Waits for MIGRATION {status}. */
    JsonNode awaitMigration(String status) {
        return client().awaitEvent(e -> "MIGRATION".equals(e.path("event").asText())
                && status.equals(e.path("data").path("status").asText()), TestTimeouts.LONG);
    }

    /** Waits for JOB_STATUS_CHANGE {id, status}. */
    JsonNode awaitJob(String id, String status) {
        return client().awaitEvent(e -> "JOB_STATUS_CHANGE".equals(e.path("event").asText())
                && id.equals(e.path("data").path("id").asText())
                && status.equals(e.path("data").path("status").asText()), TestTimeouts.LONG);
    }

    static Predicate<JsonNode> any() {
        return e -> true;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            qmp.mainLoop().call(() -> {
                engine.jobs().forEach(j -> {
                    try {
                        engine.cancel(j.id(), true);
                    } catch (RuntimeException e) {
                        // already ending
                    }
                });
                return null;
            });
            module.outgoing().ifPresent(j -> j.shutdown()); // postcopy refuses the cancel; it ends as the daemon's would
            engine.awaitThreadsEnded(TestTimeouts.MEDIUM);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            module.close();
            qmp.close();
        }
    }
}
