package dev.converge.qmp.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.wire.QmpFramer;
import dev.converge.qmp.wire.QmpJson;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A QMP client for the CLI, tests and benchmarks. {@link #connect} reads the greeting and
 * negotiates capabilities; then {@link #execute} runs commands. It is safe for concurrent use:
 * each request carries its own id and the reply with that id completes it, whatever the order.
 * <p>
 * Events are kept in a queue (the oldest dropped beyond {@link #MAX_BUFFERED_EVENTS}) that
 * {@link #awaitEvent} searches and consumes from; listeners added with
 * {@link #addEventListener} also see every event, on the client's reader thread (they must not
 * block or call {@link #execute}).
 */
public final class QmpClient implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QmpClient.class);

    /** How long {@link #execute(String, ObjectNode)} waits for a reply unless told otherwise. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);
    /** Events kept for {@link #awaitEvent} before the oldest are dropped. */
    public static final int MAX_BUFFERED_EVENTS = 10_000;

    private final SocketChannel channel;
    private final SocketAddress address;
    private final Duration timeout;
    private final QmpFramer framer = new QmpFramer();
    private final AtomicLong ids = new AtomicLong();
    /** Requests sent and not yet answered, by id. */
    private final Map<Long, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
    private final CompletableFuture<JsonNode> greeting = new CompletableFuture<>();
    private final List<Consumer<JsonNode>> listeners = new CopyOnWriteArrayList<>();
    /** Serialises writes of whole requests. */
    private final ReentrantLock writeLock = new ReentrantLock();

    /** Guards {@link #events}, {@link #failure}; {@link #eventArrived} is signalled on each event and on close. */
    private final ReentrantLock eventLock = new ReentrantLock();
    private final Condition eventArrived = eventLock.newCondition();
    /** Guarded by eventLock. */
    private final ArrayDeque<JsonNode> events = new ArrayDeque<>();
    /** Guarded by eventLock: why the connection ended, once it has. */
    private QmpConnectionException failure;

    private final Thread reader;

    private QmpClient(SocketChannel channel, SocketAddress address, Duration timeout) {
        this.channel = channel;
        this.address = address;
        this.timeout = timeout;
        // A platform thread, not a virtual one: a virtual thread's blocking read parks it on the JDK's
        // poller thread, which then sits in epoll_wait (native code) for the life of the process, and
        // a JVM exiting with a thread in native code waits 300 ms for it (HotSpot's VM_Exit). That was
        // most of a `converge jobs` call. A platform reader leaves native code when close() closes the channel.
        this.reader = Thread.ofPlatform().daemon().name("qmp-client-reader " + address).start(this::readLoop);
    }

    /**
     * Connects to {@code unix:PATH} or {@code tcp:HOST:PORT} and negotiates.
     *
     * @throws dev.converge.qmp.QmpException when {@code address} does not parse (see {@link SocketAddress#parse})
     */
    public static QmpClient connect(String address) {
        return connect(SocketAddress.parse(address), DEFAULT_TIMEOUT);
    }

    /** Connects to {@code address} and negotiates. */
    public static QmpClient connect(SocketAddress address) {
        return connect(address, DEFAULT_TIMEOUT);
    }

    /**
     * Connects, reads the greeting and runs {@code qmp_capabilities}.
     *
     * @param timeout bound on the greeting and on each later {@link #execute} without its own
     * @throws QmpConnectionException when the server cannot be reached or does not speak QMP
     */
    public static QmpClient connect(SocketAddress address, Duration timeout) {
        SocketChannel ch;
        try {
            ch = SocketChannel.open(address.resolve());
        } catch (IOException e) {
            throw new QmpConnectionException("cannot connect to " + address + ": " + e.getMessage(), e);
        }
        QmpClient client = new QmpClient(ch, address, timeout);
        try {
            JsonNode hello = await(client.greeting, timeout, "greeting from " + address);
            if (!hello.has("QMP")) {
                throw new QmpConnectionException("not a QMP greeting from " + address + ": " + hello, null);
            }
            client.execute("qmp_capabilities");
            return client;
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
    }

    /** The server's greeting ({@code {"QMP": {...}}}). */
    public JsonNode greeting() {
        return greeting.getNow(null);
    }

    /** Runs a command without arguments; returns its {@code return} value. */
    public JsonNode execute(String command) {
        return execute(command, null, timeout);
    }

    /** Runs a command; returns its {@code return} value. */
    public JsonNode execute(String command, ObjectNode args) {
        return execute(command, args, timeout);
    }

    /**
     * Runs a command and waits at most {@code timeout} for its reply.
     *
     * @return the {@code return} member of the reply
     * @throws QmpCommandException the server answered with an error
     * @throws QmpTimeoutException no reply in time (the request stays sent)
     * @throws QmpConnectionException the connection broke or was closed
     */
    public JsonNode execute(String command, ObjectNode args, Duration timeout) {
        long id = ids.incrementAndGet();
        ObjectNode request = QmpJson.object();
        request.put("execute", command);
        if (args != null) {
            request.set("arguments", args);
        }
        request.put("id", id);
        CompletableFuture<JsonNode> reply = new CompletableFuture<>();
        pending.put(id, reply);
        try {
            checkOpen();
            send(QmpJson.encode(request));
            JsonNode r = await(reply, timeout, "reply to " + command);
            JsonNode error = r.get("error");
            if (error != null) {
                throw new QmpCommandException(command, error.path("class").asText(), error.path("desc").asText());
            }
            return r.get("return");
        } finally {
            pending.remove(id);
        }
    }

    /**
     * Waits for an event matching {@code match}, takes it (and only it) out of the queue and
     * returns it. Events that arrived before this call count.
     *
     * @throws QmpTimeoutException none within {@code timeout}
     * @throws QmpConnectionException the connection ended and no queued event matches
     */
    public JsonNode awaitEvent(Predicate<JsonNode> match, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        eventLock.lock();
        try {
            while (true) {
                for (Iterator<JsonNode> it = events.iterator(); it.hasNext();) {
                    JsonNode e = it.next();
                    if (match.test(e)) {
                        it.remove();
                        return e;
                    }
                }
                if (failure != null) {
                    throw new QmpConnectionException(failure.getMessage(), failure);
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new QmpTimeoutException("no matching event from " + address + " within " + timeout);
                }
                eventArrived.awaitNanos(left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpConnectionException("interrupted while waiting for an event", e);
        } finally {
            eventLock.unlock();
        }
    }

    /** Waits for the next event named {@code name}. */
    public JsonNode awaitEvent(String name, Duration timeout) {
        return awaitEvent(e -> name.equals(e.path("event").asText()), timeout);
    }

    /** Takes every queued event out of the queue, oldest first. */
    public List<JsonNode> drainEvents() {
        eventLock.lock();
        try {
            List<JsonNode> out = new ArrayList<>(events);
            events.clear();
            return out;
        } finally {
            eventLock.unlock();
        }
    }

    /** Calls {@code listener} with every event from now on, on the reader thread. */
    public void addEventListener(Consumer<JsonNode> listener) {
        listeners.add(listener);
    }

    /** Whether the connection is still up. */
    public boolean isConnected() {
        eventLock.lock();
        try {
            return failure == null;
        } finally {
            eventLock.unlock();
        }
    }

    /** Closes the connection; pending calls fail with {@link QmpConnectionException}. */
    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            LOG.debug("closing QMP client {} failed: {}", address, e.toString());
        }
        try {
            reader.join(DEFAULT_TIMEOUT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        end(new QmpConnectionException("QMP client for " + address + " closed", null));
    }

    private void send(byte[] bytes) {
        writeLock.lock();
        try {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                channel.write(b);
            }
        } catch (IOException e) {
            throw new QmpConnectionException("sending to " + address + " failed: " + e.getMessage(), e);
        } finally {
            writeLock.unlock();
        }
    }

    private void readLoop() {
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        QmpConnectionException why = null;
        try {
            while (true) {
                buf.clear();
                int n = channel.read(buf);
                if (n < 0) {
                    why = new QmpConnectionException("server " + address + " closed the connection", null);
                    return;
                }
                for (QmpFramer.Frame f : framer.feed(buf.array(), 0, n)) {
                    switch (f) {
                        case QmpFramer.Frame.Error err -> LOG.warn("bad QMP input from {}: {}", address, err.desc());
                        case QmpFramer.Frame.Message m -> {
                            try {
                                deliver(QmpJson.parse(m.json()));
                            } catch (QmpJson.ParseException e) {
                                LOG.warn("bad QMP input from {}: {}", address, e.getMessage());
                            }
                        }
                    }
                }
            }
        } catch (IOException e) {
            why = new QmpConnectionException("connection to " + address + " ended: " + e.getMessage(), e);
        } finally {
            end(why != null ? why : new QmpConnectionException("connection to " + address + " ended", null));
        }
    }

    private void deliver(JsonNode message) {
        if (!greeting.isDone()) {
            greeting.complete(message);
            return;
        }
        if (message.has("event")) {
            eventLock.lock();
            try {
                if (events.size() == MAX_BUFFERED_EVENTS) {
                    JsonNode dropped = events.removeFirst();
                    LOG.warn("QMP client {} dropped unconsumed event {}", address, dropped.path("event").asText());
                }
                events.addLast(message);
                eventArrived.signalAll();
            } finally {
                eventLock.unlock();
            }
            for (Consumer<JsonNode> l : listeners) {
                try {
                    l.accept(message);
                } catch (RuntimeException e) {
                    LOG.error("QMP event listener failed on {}", message, e);
                }
            }
            return;
        }
        JsonNode id = message.get("id");
        CompletableFuture<JsonNode> f = id != null && id.canConvertToLong() ? pending.get(id.asLong()) : null;
        if (f != null) {
            f.complete(message);
        } else {
            LOG.warn("QMP reply from {} matches no request: {}", address, message);
        }
    }

    private void end(QmpConnectionException why) {
        eventLock.lock();
        try {
            if (failure == null) {
                failure = why;
            }
            eventArrived.signalAll();
        } finally {
            eventLock.unlock();
        }
        greeting.completeExceptionally(why);
        pending.values().forEach(f -> f.completeExceptionally(why));
    }

    private void checkOpen() {
        eventLock.lock();
        try {
            if (failure != null) {
                throw new QmpConnectionException(failure.getMessage(), failure);
            }
        } finally {
            eventLock.unlock();
        }
    }

    private static JsonNode await(CompletableFuture<JsonNode> f, Duration timeout, String what) {
        try {
            return f.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new QmpTimeoutException("no " + what + " within " + timeout);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof QmpClientException q) {
                throw q;
            }
            throw new QmpConnectionException(what + " failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpConnectionException("interrupted while waiting for " + what, e);
        }
    }
}
