package dev.converge.qmp.server;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.ErrorClass;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.client.QmpCommandException;
import dev.converge.qmp.client.QmpConnectionException;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.EventSpec;
import dev.converge.qmp.schema.ObjectType;
import dev.converge.qmp.sockets.InetSocketAddress;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.sockets.UnixSocketAddress;
import dev.converge.qmp.wire.QmpFramer;
import dev.converge.qmp.wire.QmpJson;
import dev.converge.testing.QmpTestServer;
import dev.converge.testing.RawQmpConnection;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QmpServerTest {
    private final QmpRegistry registry = new QmpRegistry();
    private final CountDownLatch blockEntered = new CountDownLatch(1);
    private final CountDownLatch blockRelease = new CountDownLatch(1);
    private final AtomicReference<Runnable> afterQuit = new AtomicReference<>();
    private QmpTestServer qmp;

    @BeforeEach
    void setUp() {
        registry.register(new EventSpec("TEST_EVENT", ObjectType.struct("q_obj_TEST_EVENT-arg", "",
                required("i", BuiltinType.INT, "sequence number"), optional("pad", BuiltinType.STR, "")),
                "Emitted by the emit command.", "0.1.0"));
        qmp = QmpTestServer.start(registry);
        registry.register(new CommandSpec("echo", CommandSpec.args("echo", optional("value", BuiltinType.ANY, "")),
                BuiltinType.ANY, "Returns its argument.", "0.1.0", a -> a.raw("value")));
        registry.register(new CommandSpec("emit", CommandSpec.args("emit", required("n", BuiltinType.INT, "")),
                CommandSpec.EMPTY, "Emits n TEST_EVENTs, then replies.", "0.1.0", a -> {
                    for (int i = 0; i < a.integer("n"); i++) {
                        qmp.events().emit("TEST_EVENT", event(i, null));
                    }
                    return null;
                }));
        registry.register(new CommandSpec("block", CommandSpec.EMPTY, CommandSpec.EMPTY,
                "Waits until the test releases it.", "0.1.0", a -> {
                    blockEntered.countDown();
                    try {
                        assertThat(blockRelease.await(TestTimeouts.MEDIUM.toNanos(), TimeUnit.NANOSECONDS)).isTrue();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return null;
                }));
        registry.register(new CommandSpec("boom", CommandSpec.EMPTY, CommandSpec.EMPTY, "A buggy handler.", "0.1.0",
                a -> {
                    throw new IllegalStateException("handler bug");
                }));
        registry.register(new CommandSpec("quit", CommandSpec.EMPTY, CommandSpec.EMPTY,
                "Replies, then runs the test's action.", "0.1.0", a -> {
                    qmp.server().afterReply(afterQuit.get());
                    return null;
                }));
    }

    @AfterEach
    void tearDown() {
        qmp.close();
    }

    private static ObjectNode event(int i, String pad) {
        ObjectNode d = QmpJson.object();
        d.put("i", i);
        if (pad != null) {
            d.put("pad", pad);
        }
        return d;
    }

    private static JsonNode json(String s) throws Exception {
        return QmpJson.parse(s);
    }

    private static String desc(JsonNode reply) {
        return reply.path("error").path("desc").asText();
    }

    private static String errorClass(JsonNode reply) {
        return reply.path("error").path("class").asText();
    }

    @Test
    void greetingHasQemuShape() throws Exception {
        try (RawQmpConnection raw = qmp.raw()) {
            JsonNode g = raw.read();
            assertThat(g).isEqualTo(json("""
                    {"QMP": {"version": {"qemu": {"micro": 0, "minor": 0, "major": 10},
                     "package": "converge 0.1.0"}, "capabilities": []}}"""));
        }
    }

    @Test
    void onlyQmpCapabilitiesBeforeNegotiation() throws Exception {
        try (RawQmpConnection raw = qmp.raw()) {
            raw.read();
            for (String cmd : List.of("query-version", "no-such-command")) {
                JsonNode r = raw.roundTrip("{\"execute\": \"" + cmd + "\", \"id\": 1}");
                assertThat(errorClass(r)).isEqualTo("CommandNotFound");
                assertThat(desc(r)).isEqualTo("Expecting capabilities negotiation with 'qmp_capabilities'");
                assertThat(r.get("id").asInt()).isEqualTo(1);
            }
            JsonNode r = raw.roundTrip("{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}}");
            assertThat(desc(r)).isEqualTo("Capability oob not available");
            r = raw.roundTrip("{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"foo\"]}}");
            assertThat(desc(r)).isEqualTo("Parameter 'null' does not accept value 'foo'");

            // Events are not delivered before negotiation.
            qmp.client().execute("emit", args("{\"n\": 1}"));
            assertThat(raw.roundTrip("{\"execute\": \"qmp_capabilities\"}")).isEqualTo(json("{\"return\": {}}"));
            r = raw.roundTrip("{\"execute\": \"qmp_capabilities\"}");
            assertThat(errorClass(r)).isEqualTo("CommandNotFound");
            assertThat(desc(r)).isEqualTo("Capabilities negotiation is already complete, command ignored");
            assertThat(raw.roundTrip("{\"execute\": \"query-version\"}").path("return").path("package").asText())
                    .isEqualTo("converge 0.1.0");
        }
    }

    @Test
    void idIsEchoedVerbatimWhateverItsJsonType() throws Exception {
        try (RawQmpConnection raw = RawQmpConnection.connectNegotiated(qmp.address())) {
            for (String id : List.of("1", "-7", "\"abc\"", "1.5", "true", "null", "[1, {\"a\": \"b\"}]",
                    "{\"x\": [null, 2]}", "\"Grüße\"")) {
                JsonNode r = raw.roundTrip("{\"execute\": \"echo\", \"arguments\": {\"value\": 5}, \"id\": " + id + "}");
                assertThat(r.get("return").asInt()).isEqualTo(5);
                assertThat(QmpJson.toText(r.get("id"))).as("id %s", id).isEqualTo(QmpJson.toText(json(id)));
                r = raw.roundTrip("{\"execute\": \"nope\", \"id\": " + id + "}");
                assertThat(QmpJson.toText(r.get("id"))).isEqualTo(QmpJson.toText(json(id)));
            }
            assertThat(raw.roundTrip("{\"execute\": \"echo\"}").has("id")).isFalse();
        }
    }

    @Test
    void malformedInputGetsErrorsAndTheConnectionGoesOn() throws Exception {
        try (RawQmpConnection raw = RawQmpConnection.connectNegotiated(qmp.address())) {
            assertThat(desc(raw.roundTrip("{\"execute\": }"))).startsWith("JSON parse error, ");
            assertThat(desc(raw.roundTrip("[1, 2]"))).isEqualTo("QMP input must be a JSON object");
            assertThat(desc(raw.roundTrip("{\"execute\": 3, \"id\": 9}"))).isEqualTo(
                    "QMP input member 'execute' must be a string");
            assertThat(desc(raw.roundTrip("{\"exec-oob\": \"echo\"}"))).isEqualTo(
                    "QMP input member 'exec-oob' is unexpected");
            assertThat(desc(raw.roundTrip("{\"execute\": \"echo\", \"arguments\": 1}"))).isEqualTo(
                    "QMP input member 'arguments' must be an object");
            JsonNode r = raw.roundTrip("{\"execute\": \"nope\"}");
            assertThat(errorClass(r)).isEqualTo("CommandNotFound");
            assertThat(desc(r)).isEqualTo("The command nope has not been found");
            assertThat(desc(raw.roundTrip("}"))).isEqualTo("JSON parse error, stray '}'");
            assertThat(desc(raw.roundTrip("{\"execute\": \"emit\", \"arguments\": {\"n\": \"x\"}}"))).isEqualTo(
                    "Invalid parameter type for 'n', expected: integer");
            assertThat(raw.roundTrip("{\"execute\": \"echo\", \"arguments\": {\"value\": \"still here\"}}"))
                    .isEqualTo(json("{\"return\": \"still here\"}"));
        }
    }

    @Test
    void handlerBugIsAnErrorReplyNotACrash() throws Exception {
        assertThatThrownBy(() -> qmp.client().execute("boom")).isInstanceOfSatisfying(QmpCommandException.class,
                e -> {
                    assertThat(e.errorClass()).isEqualTo(ErrorClass.GenericError);
                    assertThat(e.desc()).contains("handler bug");
                });
        assertThat(qmp.client().execute("echo", args("{\"value\": 1}")).asInt()).isEqualTo(1);
    }

    @Test
    void eventsEmittedByAHandlerArriveBeforeItsReply() throws Exception {
        try (RawQmpConnection raw = RawQmpConnection.connectNegotiated(qmp.address())) {
            raw.send("{\"execute\": \"emit\", \"arguments\": {\"n\": 3}, \"id\": \"e\"}\n");
            for (int i = 0; i < 3; i++) {
                JsonNode ev = raw.read();
                assertThat(ev.path("event").asText()).isEqualTo("TEST_EVENT");
                assertThat(ev.path("data").path("i").asInt()).isEqualTo(i);
                assertThat(ev.path("timestamp").path("seconds").asLong()).isPositive();
                assertThat(ev.path("timestamp").path("microseconds").asLong()).isBetween(0L, 999_999L);
            }
            assertThat(raw.read()).isEqualTo(json("{\"return\": {}, \"id\": \"e\"}"));
        }
    }

    @Test
    void unknownEventIsABugOfTheCaller() {
        assertThatThrownBy(() -> qmp.events().emit("NO_SUCH_EVENT", null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NO_SUCH_EVENT");
    }

    @Test
    void manyConcurrentClientsGetCorrectRepliesWhileOneSendsGarbage() throws Exception {
        int clients = 6;
        int perClient = 40;
        List<QmpClient> cs = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            cs.add(qmp.newClient());
        }
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        try (RawQmpConnection bad = RawQmpConnection.connectNegotiated(qmp.address())) {
            List<Future<?>> work = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                QmpClient client = cs.get(c);
                int cn = c;
                // Two threads per client: replies are matched by id, not by order.
                for (int t = 0; t < 2; t++) {
                    int tn = t;
                    work.add(pool.submit(() -> {
                        for (int i = 0; i < perClient; i++) {
                            String v = cn + "/" + tn + "/" + i;
                            JsonNode r = client.execute("echo", args("{\"value\": \"" + v + "\"}"));
                            assertThat(r.asText()).isEqualTo(v);
                        }
                        return null;
                    }));
                }
            }
            work.add(pool.submit(() -> {
                bad.send(new byte[] {(byte) 0xff, '\n'});
                assertThat(desc(bad.read())).isEqualTo("JSON parse error, stray '\\xff'");
                bad.send("[".repeat(QmpFramer.MAX_DEPTH + 1) + "\n");
                assertThat(desc(bad.read())).startsWith("JSON nesting depth limit exceeded");
                byte[] big = new byte[QmpFramer.MAX_MESSAGE_BYTES + 10];
                java.util.Arrays.fill(big, (byte) 'a');
                big[0] = '"';
                big[big.length - 1] = '\n';
                bad.send(big);
                assertThat(desc(bad.read())).startsWith("JSON message size limit exceeded");
                bad.send("{\"execute\": {\"no\": 1}}\n{\"exe");
                assertThat(desc(bad.read())).isEqualTo("QMP input member 'execute' must be a string");
                bad.send("cute\": \"echo\", \"arguments\": {\"value\": 42}}\n");
                assertThat(bad.read()).isEqualTo(json("{\"return\": 42}"));
                return null;
            }));
            for (Future<?> f : work) {
                f.get(TestTimeouts.MEDIUM.toNanos(), TimeUnit.NANOSECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(qmp.server().connectionCount()).isGreaterThanOrEqualTo(clients + 1);
    }

    @Test
    void oneClientIsSafeForConcurrentExecutes() throws Exception {
        QmpClient c = qmp.client();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<JsonNode>> fs = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                int n = i;
                fs.add(pool.submit(() -> c.execute("echo", args("{\"value\": " + n + "}"))));
            }
            for (int i = 0; i < fs.size(); i++) {
                assertThat(fs.get(i).get(TestTimeouts.SHORT.toNanos(), TimeUnit.NANOSECONDS).asInt()).isEqualTo(i);
            }
        }
    }

    @Test
    void clientAwaitsEventsAndListenersSeeThem() {
        List<JsonNode> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        QmpClient other = qmp.newClient();
        other.addEventListener(seen::add);
        qmp.client().execute("emit", args("{\"n\": 3}"));
        JsonNode second = qmp.client().awaitEvent(e -> e.path("data").path("i").asInt() == 1, TestTimeouts.SHORT);
        assertThat(second.path("event").asText()).isEqualTo("TEST_EVENT");
        assertThat(qmp.client().drainEvents()).extracting(e -> e.path("data").path("i").asInt()).containsExactly(0, 2);
        await().atMost(TestTimeouts.SHORT).until(() -> seen.size() == 3);
        assertThatThrownBy(() -> qmp.client().awaitEvent("TEST_EVENT", java.time.Duration.ofMillis(1)))
                .isInstanceOf(dev.converge.qmp.client.QmpTimeoutException.class);
    }

    @Test
    void clientVanishingMidRequestEndsOnlyThatConnection() throws Exception {
        RawQmpConnection raw = RawQmpConnection.connectNegotiated(qmp.address());
        int before = qmp.server().connectionCount();
        raw.send("{\"execute\": \"block\"}\n");
        assertThat(blockEntered.await(TestTimeouts.SHORT.toNanos(), TimeUnit.NANOSECONDS)).isTrue();
        raw.close();
        blockRelease.countDown();
        await().atMost(TestTimeouts.SHORT).until(() -> qmp.server().connectionCount() == before - 1);
        assertThat(qmp.client().execute("echo", args("{\"value\": \"ok\"}")).asText()).isEqualTo("ok");
    }

    @Test
    void clientThatShutsItsOutputStillGetsItsReplies() throws Exception {
        try (RawQmpConnection raw = RawQmpConnection.connectNegotiated(qmp.address())) {
            raw.send("{\"execute\": \"echo\", \"arguments\": {\"value\": 1}}\n"
                    + "{\"execute\": \"echo\", \"arguments\": {\"value\": 2}}\n");
            raw.shutdownOutput();
            assertThat(raw.read().path("return").asInt()).isEqualTo(1);
            assertThat(raw.read().path("return").asInt()).isEqualTo(2);
            assertThat(raw.awaitClosedByServer(TestTimeouts.SHORT)).isTrue();
        }
    }

    @Test
    void clientThatStopsReadingIsDisconnectedAndOthersCarryOn() throws Exception {
        try (SocketChannel silent = SocketChannel.open(qmp.address().resolve())) {
            silent.write(ByteBuffer.wrap("{\"execute\": \"qmp_capabilities\"}\n".getBytes(StandardCharsets.UTF_8)));
            // Read the greeting and the negotiation reply, then never read again.
            QmpFramer framer = new QmpFramer();
            ByteBuffer buf = ByteBuffer.allocate(4096);
            int messages = 0;
            while (messages < 2) {
                buf.clear();
                int n = silent.read(buf);
                assertThat(n).isPositive();
                messages += framer.feed(buf.array(), 0, n).size();
            }
            int before = qmp.server().connectionCount();
            String pad = "x".repeat(64 * 1024);
            // Far more than the outbound limit; the emitter must never block on the silent client.
            for (int i = 0; i < (int) (QmpConnection.MAX_QUEUED_BYTES / pad.length()) + 100; i++) {
                qmp.events().emit("TEST_EVENT", event(i, pad));
            }
            // The silent client goes; so may the fixture's client, which cannot read 16 MiB as fast as
            // they are emitted. Either way the server serves a new client at once.
            await().atMost(TestTimeouts.SHORT).until(() -> qmp.server().connectionCount() <= before - 1);
            assertThat(qmp.newClient().execute("echo", args("{\"value\": 3}")).asInt()).isEqualTo(3);
            // The silent client was cut off: what the kernel buffered ends in EOF.
            try (ExecutorService reader = Executors.newVirtualThreadPerTaskExecutor()) {
                Future<Integer> eof = reader.submit(() -> {
                    int n;
                    do {
                        buf.clear();
                        n = silent.read(buf);
                    } while (n >= 0);
                    return n;
                });
                assertThat(eof.get(TestTimeouts.SHORT.toNanos(), TimeUnit.NANOSECONDS)).isEqualTo(-1);
            }
        }
    }

    @Test
    void afterReplyRunsOnceTheReplyIsOut() throws Exception {
        CountDownLatch ran = new CountDownLatch(1);
        afterQuit.set(ran::countDown);
        qmp.client().execute("quit");
        assertThat(ran.await(TestTimeouts.SHORT.toNanos(), TimeUnit.NANOSECONDS)).isTrue();
        assertThatThrownBy(() -> qmp.server().afterReply(() -> { })).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void quitCanCloseTheServerFromItsAfterReplyAction() throws Exception {
        CountDownLatch closed = new CountDownLatch(1);
        afterQuit.set(() -> {
            qmp.server().close();
            closed.countDown();
        });
        QmpClient c = qmp.client();
        assertThat(c.execute("quit")).isEqualTo(json("{}"));
        assertThat(closed.await(TestTimeouts.SHORT.toNanos(), TimeUnit.NANOSECONDS)).isTrue();
        assertThat(qmp.server().connectionCount()).isZero();
        assertThatThrownBy(() -> c.execute("echo")).isInstanceOf(QmpConnectionException.class);
    }

    @Test
    void unixSocketIsPrivateAndRemovedOnClose(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("s.sock");
        try (MainLoop loop = new MainLoop()) {
            QmpServer server = new QmpServer(registry, loop, ServerIdentity.CONVERGE);
            server.listen(new UnixSocketAddress(sock));
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sock))).isEqualTo("rw-------");
            try (QmpClient c = QmpClient.connect("unix:" + sock)) {
                assertThat(c.execute("query-version").path("qemu").path("major").asInt()).isEqualTo(10);
            }
            // A second server refuses the address while the first answers on it.
            QmpServer second = new QmpServer(registry, loop, ServerIdentity.CONVERGE);
            assertThatThrownBy(() -> second.listen(new UnixSocketAddress(sock))).isInstanceOf(IOException.class)
                    .hasMessageContaining("a server is answering");
            second.close();
            server.close();
            assertThat(sock).doesNotExist();
        }
    }

    @Test
    void staleSocketIsReplacedButOtherFilesAreNot(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("stale.sock");
        // A socket file nobody listens on any more, as a crashed daemon leaves it.
        ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        dead.bind(java.net.UnixDomainSocketAddress.of(sock));
        dead.close();
        assertThat(sock).exists();
        Path regular = Files.writeString(dir.resolve("data"), "precious");
        try (MainLoop loop = new MainLoop(); QmpServer server = new QmpServer(registry, loop, ServerIdentity.CONVERGE)) {
            server.listen(new UnixSocketAddress(sock));
            try (QmpClient c = QmpClient.connect(new UnixSocketAddress(sock))) {
                assertThat(c.execute("query-commands").isArray()).isTrue();
            }
            assertThatThrownBy(() -> server.listen(new UnixSocketAddress(regular))).isInstanceOf(IOException.class)
                    .hasMessageContaining("not a socket");
            assertThat(Files.readString(regular)).isEqualTo("precious");
        }
    }

    @Test
    void tcpListener() throws Exception {
        try (MainLoop loop = new MainLoop(); QmpServer server = new QmpServer(registry, loop, ServerIdentity.CONVERGE)) {
            SocketAddress bound = server.listen(SocketAddress.parse("tcp:127.0.0.1:0"));
            assertThat(((InetSocketAddress) bound).port()).isPositive();
            try (QmpClient c = QmpClient.connect(bound.toString())) {
                assertThat(c.execute("echo", args("{\"value\": [1]}"))).isEqualTo(json("[1]"));
            }
        }
    }

    @Test
    void closeDisconnectsClientsAndJoinsThreads() {
        QmpClient c = qmp.newClient();
        qmp.server().close();
        assertThat(qmp.server().connectionCount()).isZero();
        assertThatThrownBy(() -> c.execute("echo")).isInstanceOf(QmpConnectionException.class);
        assertThat(qmp.server().addresses()).isEmpty();
    }

    private static ObjectNode args(String json) {
        try {
            return (ObjectNode) QmpJson.parse(json);
        } catch (QmpJson.ParseException e) {
            throw new AssertionError(e);
        }
    }
}
