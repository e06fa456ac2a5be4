package dev.converge.daemon.joint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.daemon.Daemon;
import dev.converge.daemon.DaemonConfig;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.qmp.MachineConfig;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * One in-process daemon for the joint tests, driven over its QMP socket as management software
 * drives it; every event it sends is also recorded in arrival order, for order checks.
 */
final class JointPeer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    final Daemon daemon;
    final QmpClient client;
    /** Every event received, oldest first; appended by the client's reader thread. */
    final List<JsonNode> events = new CopyOnWriteArrayList<>();
    private boolean closed;

    JointPeer(Path dir, String name, MachineConfig machine, String... blockdevs) {
        Path socket = dir.resolve(name + ".qmp");
        daemon = Daemon.start(new DaemonConfig(List.of(SocketAddress.parse("unix:" + socket)), List.of(blockdevs), machine));
        try {
            client = QmpClient.connect("unix:" + socket);
            client.addEventListener(events::add);
        } catch (RuntimeException e) {
            daemon.close();
            throw e;
        }
    }

    Machine machine() {
        return daemon.migration().machine().orElseThrow();
    }

    /** Runs {@code command} with arguments as JSON text, single quotes allowed for double ones. */
    JsonNode exec(String command, String args) {
        try {
            return client.execute(command, (ObjectNode) JSON.readTree(args.replace('\'', '"')));
        } catch (IOException e) {
            throw new IllegalArgumentException(args, e);
        }
    }

    JsonNode exec(String command) {
        return client.execute(command);
    }

    String runState() {
        return exec("query-status").get("status").asText();
    }

    /** The tcp URI a destination listens on. */
    String listeningUri() {
        JsonNode a = exec("query-migrate").get("socket-address").get(0);
        return "tcp:" + a.get("host").asText() + ":" + a.get("port").asText();
    }

    /** Waits for JOB_STATUS_CHANGE {id, status}. */
    void awaitJob(String id, String status) {
        client.awaitEvent(e -> "JOB_STATUS_CHANGE".equals(e.path("event").asText())
                && id.equals(e.path("data").path("id").asText())
                && status.equals(e.path("data").path("status").asText()), TestTimeouts.LONG);
    }

    /** Waits for an event named {@code name} whose data has {@code member} = {@code value}. */
    JsonNode awaitEvent(String name, String member, String value) {
        return client.awaitEvent(e -> name.equals(e.path("event").asText())
                && value.equals(e.path("data").path(member).asText()), TestTimeouts.LONG);
    }

    /**
     * The events as short strings in arrival order: "id:status" for JOB_STATUS_CHANGE,
     * "MIGRATION:status", other events by name and job ("BLOCK_JOB_COMPLETED:mirror0").
     */
    List<String> trace() {
        List<String> out = new ArrayList<>();
        for (JsonNode e : events) {
            String name = e.path("event").asText();
            JsonNode d = e.path("data");
            switch (name) {
                case "JOB_STATUS_CHANGE" -> out.add(d.path("id").asText() + ":" + d.path("status").asText());
                case "MIGRATION" -> out.add("MIGRATION:" + d.path("status").asText());
                case "MIGRATION_PASS", "JOB_INFO_CHANGE" -> { }
                default -> out.add(name + (d.has("device") ? ":" + d.path("device").asText() : ""));
            }
        }
        return out;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            client.close();
        } finally {
            daemon.close();
        }
    }
}
