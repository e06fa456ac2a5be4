package dev.converge.nbd.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockGraph;
import dev.converge.block.qmp.BlockQmp;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.client.QmpCommandException;
import dev.converge.qmp.objects.UserObjects;
import dev.converge.testing.QmpTestServer;
import java.io.UncheckedIOException;

/** A QMP server with the block commands and the NBD commands, as the daemon wires them. */
final class NbdQmpFixture implements AutoCloseable {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    final QmpRegistry registry = new QmpRegistry();
    final QmpTestServer qmp = QmpTestServer.start(registry);
    final BlockGraph graph = new BlockGraph(qmp.mainLoop());
    final UserObjects objects = new UserObjects();
    final NbdQmp nbd;

    NbdQmpFixture() {
        BlockQmp block = new BlockQmp(graph);
        block.register(registry);
        objects.register(registry);
        nbd = NbdQmp.register(registry, qmp.events(), graph, objects);
        block.addDriver(registry, dev.converge.nbd.driver.NbdDriver.plugin(objects));
    }

    QmpClient client() {
        return qmp.client();
    }

    /** JSON with single quotes for readability. */
    static ObjectNode json(String s) {
        try {
            return (ObjectNode) MAPPER.readTree(s.replace('\'', '"'));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    JsonNode exec(String command, String args) {
        return client().execute(command, args == null ? null : json(args));
    }

    /** The error text of a command that must fail. */
    String error(String command, String args) {
        try {
            client().execute(command, args == null ? null : json(args));
        } catch (QmpCommandException e) {
            return e.desc();
        }
        throw new AssertionError(command + " " + args + " succeeded");
    }

    @Override
    public void close() {
        qmp.mainLoop().call(() -> {
            nbd.close();
            return null;
        });
        qmp.close();
    }
}
