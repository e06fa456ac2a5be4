package dev.converge.testing;

import dev.converge.qmp.EventSink;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.server.QmpCoreCommands;
import dev.converge.qmp.server.QmpServer;
import dev.converge.qmp.server.ServerIdentity;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.sockets.UnixSocketAddress;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A QMP server on a temporary UNIX socket, for tests of any module:
 * <pre>{@code
 * QmpRegistry registry = new QmpRegistry();
 * try (QmpTestServer qmp = QmpTestServer.start(registry)) {
 *     MyModule.register(registry, qmp.events(), qmp.mainLoop());   // before or after start
 *     JsonNode r = qmp.client().execute("my-command", args);
 *     qmp.client().awaitEvent("MY_EVENT", TestTimeouts.SHORT);
 * }
 * }</pre>
 * The core commands (qmp_capabilities, query-commands, query-version, query-qmp-schema) are
 * registered unless the registry has them already. {@link #close()} closes the clients, the
 * server, the main loop (when the fixture created it) and removes the temporary directory.
 */
public final class QmpTestServer implements AutoCloseable {
    private final MainLoop mainLoop;
    private final boolean ownsMainLoop;
    private final QmpServer server;
    private final Path dir;
    private final SocketAddress address;
    private final List<QmpClient> clients = new ArrayList<>();
    private final QmpClient client;

    private QmpTestServer(QmpRegistry registry, MainLoop mainLoop, boolean ownsMainLoop) throws IOException {
        this.mainLoop = mainLoop;
        this.ownsMainLoop = ownsMainLoop;
        if (registry.command("qmp_capabilities").isEmpty()) {
            QmpCoreCommands.register(registry, ServerIdentity.CONVERGE);
        }
        this.server = new QmpServer(registry, mainLoop, ServerIdentity.CONVERGE);
        this.dir = Files.createTempDirectory("converge-qmp-test");
        try {
            this.address = server.listen(new UnixSocketAddress(dir.resolve("qmp.sock")));
            this.client = newClient();
        } catch (IOException | RuntimeException e) {
            server.close();
            Files.deleteIfExists(dir);
            throw e;
        }
    }

    /** Starts a server with its own main loop and one connected, negotiated client. */
    public static QmpTestServer start(QmpRegistry registry) {
        return start(registry, new MainLoop(), true);
    }

    /** Starts a server on the given main loop (not closed by {@link #close()}). */
    public static QmpTestServer start(QmpRegistry registry, MainLoop mainLoop) {
        return start(registry, mainLoop, false);
    }

    private static QmpTestServer start(QmpRegistry registry, MainLoop mainLoop, boolean owns) {
        try {
            return new QmpTestServer(registry, mainLoop, owns);
        } catch (IOException e) {
            if (owns) {
                mainLoop.close();
            }
            throw new UncheckedIOException(e);
        }
    }

    /** The client connected at start. */
    public QmpClient client() {
        return client;
    }

    /** Another connected, negotiated client (closed with the fixture). */
    public synchronized QmpClient newClient() {
        QmpClient c = QmpClient.connect(address, TestTimeouts.MEDIUM);
        clients.add(c);
        return c;
    }

    /** A raw connection (not negotiated) for protocol-level tests; the caller closes it. */
    public RawQmpConnection raw() throws IOException {
        return RawQmpConnection.connect(address);
    }

    public QmpServer server() {
        return server;
    }

    /** Where modules send their events. */
    public EventSink events() {
        return server;
    }

    public MainLoop mainLoop() {
        return mainLoop;
    }

    public SocketAddress address() {
        return address;
    }

    @Override
    public void close() {
        synchronized (this) {
            clients.forEach(QmpClient::close);
        }
        server.close();
        if (ownsMainLoop) {
            mainLoop.close();
        }
        try {
            Files.deleteIfExists(dir.resolve("qmp.sock"));
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
