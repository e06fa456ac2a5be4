package dev.converge.qmp.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.EventSink;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.net.ListeningSocket;
import dev.converge.qmp.sockets.InetSocketAddress;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.sockets.UnixSocketAddress;
import dev.converge.qmp.wire.QmpJson;
import dev.converge.qmp.wire.QmpMessages;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A QMP server: listens on UNIX domain sockets and TCP ports, greets each client, runs its
 * commands on the {@link MainLoop} one at a time, and delivers events to every client that has
 * negotiated capabilities. It is also the daemon's {@link EventSink}.
 * <p>
 * Each connection has a reader and a writer (virtual threads) and one ordered, bounded
 * outbound queue (see {@link QmpConnection}): events a handler emits reach the client before
 * that command's reply; a client that stops reading is disconnected rather than blocking
 * anyone. Malformed input costs only that message (an error reply) or, for I/O errors, that
 * connection; the server keeps serving the others.
 * <p>
 * Typical wiring:
 * <pre>{@code
 * QmpServer server = new QmpServer(registry, mainLoop, ServerIdentity.CONVERGE);
 * QmpCoreCommands.register(registry, ServerIdentity.CONVERGE);
 * jobs.register(registry, server);          // modules get the server as their EventSink
 * server.listen(SocketAddress.parse("unix:/run/converge/qmp.sock"));
 * }</pre>
 * Commands may be registered before or after {@link #listen}.
 * <p>
 * Thread safety: all public methods may be called from any thread, except
 * {@link #afterReply}, which belongs to command handlers on the main loop.
 */
public final class QmpServer implements EventSink, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QmpServer.class);
    private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(10);

    private final QmpRegistry registry;
    private final MainLoop mainLoop;
    private final ServerIdentity identity;
    /** The greeting as sent (QEMU sends no capabilities a client must know of: none here either). */
    private final byte[] greeting;
    private final QmpDispatcher dispatcher;
    private final AtomicLong connectionIds = new AtomicLong();
    private final Timeouts timeouts;
    /** Checks the clients' progress against {@link #timeouts}; started by the first listen, guarded by {@link #lock}. */
    private java.util.concurrent.ScheduledExecutorService watchdog;

    /** Guards {@link #listeners} and {@link #closed}, and orders event broadcasts. */
    private final Object lock = new Object();
    /** Guarded by {@link #lock}. */
    private final List<Listener> listeners = new ArrayList<>();
    /** Guarded by {@link #lock}; once true, never false. */
    private boolean closed;
    /** Live connections; added by acceptors, removed by {@link QmpConnection#close}. */
    private final Set<QmpConnection> connections = ConcurrentHashMap.newKeySet();

    /** Main-loop confined: true while a command runs. */
    private boolean inCommand;
    /** Main-loop confined: what {@link #afterReply} asked for during the running command. */
    private Runnable afterReplyAction;

    private record Listener(SocketAddress address, ListeningSocket socket, Thread acceptor) {
    }

    /**
     * TLS of a listener (QEMU's chardev socket {@code tls-creds}).
     *
     * @param context    the server's credentials and the CA it trusts
     * @param verifyPeer whether clients must present a certificate signed by that CA
     */
    public record Tls(javax.net.ssl.SSLContext context, boolean verifyPeer) {
    }

    /**
     * How long a client may hold the server's resources without progress (QEMU has neither: a
     * client that never reads or never finishes its TLS handshake keeps its QMP connection for
     * ever there). Past either, that client is disconnected; the others are not affected.
     *
     * @param tlsHandshake from accept to the end of the TLS handshake (default 10 s, QEMU's NBD
     *                     handshake limit)
     * @param write        one message (reply, event, greeting) stuck in a write, i.e. a client
     *                     that does not read what it asked for (default 30 s)
     */
    public record Timeouts(java.time.Duration tlsHandshake, java.time.Duration write) {
        /** The defaults. */
        public static final Timeouts DEFAULTS = new Timeouts(java.time.Duration.ofSeconds(10), java.time.Duration.ofSeconds(30));

        public Timeouts {
            if (!tlsHandshake.isPositive() || !write.isPositive()) {
                throw new IllegalArgumentException("QMP timeouts: " + tlsHandshake + ", " + write + " (expected: > 0)");
            }
        }

        /** How often the watchdog looks: a quarter of the shorter timeout, at most once a second. */
        java.time.Duration period() {
            java.time.Duration q = (tlsHandshake.compareTo(write) < 0 ? tlsHandshake : write).dividedBy(4);
            return q.compareTo(java.time.Duration.ofSeconds(1)) > 0 ? java.time.Duration.ofSeconds(1) : q;
        }
    }

    /**
     * @param registry the commands and events served (read on every request)
     * @param mainLoop where commands run; not closed by this server
     * @param identity what the greeting and query-version say
     */
    public QmpServer(QmpRegistry registry, MainLoop mainLoop, ServerIdentity identity) {
        this(registry, mainLoop, identity, Timeouts.DEFAULTS);
    }

    /**
     * @param timeouts when a client that makes no progress is disconnected
     */
    public QmpServer(QmpRegistry registry, MainLoop mainLoop, ServerIdentity identity, Timeouts timeouts) {
        this.registry = registry;
        this.mainLoop = mainLoop;
        this.identity = identity;
        this.greeting = QmpMessages.greetingBytes(identity.major(), identity.minor(), identity.micro(), identity.pkg());
        this.dispatcher = new QmpDispatcher(registry);
        this.timeouts = java.util.Objects.requireNonNull(timeouts);
    }

    /** The watchdog's look: disconnects every client past a timeout (its own thread; closing only enqueues and closes a channel). */
    private void watch() {
        long now = System.nanoTime();
        for (QmpConnection c : connections) {
            c.checkProgress(now, timeouts);
        }
    }

    /**
     * Starts listening on {@code address} and returns the address actually bound (a TCP port 0
     * becomes the port chosen).
     * <p>
     * Bound by {@link ListeningSocket}: the largest backlog; for a UNIX socket, mode 0600 before
     * anyone can connect, a stale socket file (left by a crashed daemon) replaced, one a server
     * answers on or a file that is not a socket an error, and the file deleted on {@link #close()}.
     *
     * @throws IOException when the address cannot be bound (naming it)
     */
    public SocketAddress listen(SocketAddress address) throws IOException {
        return listen(address, null);
    }

    /**
     * As {@link #listen(SocketAddress)}, with every client's connection over TLS when {@code tls}
     * is not null. Plain TCP on an address that is not loopback is served, with a warning: whoever
     * reaches it controls the daemon.
     */
    public SocketAddress listen(SocketAddress address, Tls tls) throws IOException {
        address.checkListenable();
        if (tls == null && address instanceof InetSocketAddress tcp && !isLoopback(tcp.host())) {
            LOG.warn("QMP on {} is plain TCP on an address that is not loopback: anyone who can reach it controls "
                    + "this daemon; use tls-creds or a UNIX socket", address.uri());
        }
        ListeningSocket socket;
        SocketAddress bound;
        try {
            // instanceof, not a pattern switch: the switch's bootstrap spins a class with the ClassFile API
            // at run time, some 20 ms of interpreted start-up on the way to the first greeting.
            if (address instanceof UnixSocketAddress unix) {
                socket = ListeningSocket.unix(unix.path(), ListeningSocket.OWNER_ONLY);
                bound = unix;
            } else {
                InetSocketAddress tcp = (InetSocketAddress) address; // SocketAddress is sealed: the other kind
                socket = ListeningSocket.tcp(tcp.resolve());
                bound = tcp.withPort(((java.net.InetSocketAddress) socket.address()).getPort());
            }
        } catch (IOException e) {
            throw new IOException("cannot listen on " + address + ": " + e.getMessage(), e);
        }
        ServerSocketChannel channel = socket.channel();
        synchronized (lock) {
            if (closed) {
                closeQuietly(socket);
                throw new IllegalStateException("QMP server is closed");
            }
            if (watchdog == null) {
                watchdog = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
                        Thread.ofPlatform().daemon().name("qmp-watchdog").factory());
                long period = timeouts.period().toNanos();
                watchdog.scheduleWithFixedDelay(this::watch, period, period, java.util.concurrent.TimeUnit.NANOSECONDS);
            }
            Thread acceptor = Thread.ofPlatform().daemon().name("qmp-accept " + bound)
                    .unstarted(() -> acceptLoop(channel, bound, tls));
            listeners.add(new Listener(bound, socket, acceptor));
            acceptor.start();
        }
        LOG.info("QMP server listening on {}{}", bound, tls == null ? "" : " (TLS)");
        return bound;
    }

    /**
     * Emits an event to every negotiated client. The name must be registered with an
     * {@link dev.converge.qmp.schema.EventSpec}; an unknown name is a bug in the caller
     * ({@link IllegalArgumentException}). Never blocks on clients.
     */
    @Override
    public void emit(String event, ObjectNode data) {
        if (registry.event(event).isEmpty()) {
            throw new IllegalArgumentException("event " + event + " is not registered; declare it with an EventSpec");
        }
        Instant now = Instant.now();
        long micros = ChronoUnit.MICROS.between(Instant.EPOCH, now);
        byte[] message = QmpJson.encode(QmpMessages.event(event, data, micros));
        // One lock so that every client sees the events in the same order.
        synchronized (lock) {
            for (QmpConnection c : connections) {
                if (c.negotiated()) {
                    c.enqueue(message, null);
                }
            }
        }
    }

    /**
     * For a command handler (on the main loop): runs {@code action} on a fresh thread once the
     * reply to the current command has been written to its client, or dropped because the
     * client went away. A {@code quit} command uses it to shut the daemon down after its reply
     * is out: {@code server.afterReply(daemon::shutdown); return null;}.
     *
     * @throws IllegalStateException when called outside a command handler
     */
    public void afterReply(Runnable action) {
        if (!mainLoop.inMainLoop() || !inCommand) {
            throw new IllegalStateException("afterReply must be called by a command handler on the main loop");
        }
        Runnable previous = afterReplyAction;
        afterReplyAction = previous == null ? action : () -> {
            previous.run();
            action.run();
        };
    }

    /** Number of connected clients (for tests and monitoring). */
    public int connectionCount() {
        return connections.size();
    }

    /** The addresses listened on now. */
    public List<SocketAddress> addresses() {
        synchronized (lock) {
            return listeners.stream().map(Listener::address).toList();
        }
    }

    /** The registry served. */
    public QmpRegistry registry() {
        return registry;
    }

    /**
     * Stops listening, disconnects every client (replies not yet written are dropped), joins the
     * server's threads and deletes its UNIX socket files. Idempotent. The main loop stays open.
     */
    @Override
    public void close() {
        List<Listener> toClose;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = new ArrayList<>(listeners);
            listeners.clear();
            if (watchdog != null) {
                watchdog.shutdownNow();
            }
        }
        for (Listener l : toClose) {
            try {
                l.socket().channel().close();
            } catch (IOException e) {
                LOG.warn("closing QMP listener {} failed", l.address(), e);
            }
        }
        List<QmpConnection> clients = new ArrayList<>(connections);
        clients.forEach(QmpConnection::close);
        try {
            for (Listener l : toClose) {
                if (!l.acceptor().join(JOIN_TIMEOUT)) {
                    LOG.warn("QMP acceptor for {} did not stop within {}", l.address(), JOIN_TIMEOUT);
                }
            }
            for (QmpConnection c : clients) {
                if (!c.join(JOIN_TIMEOUT)) {
                    LOG.warn("QMP client {} threads did not stop within {}", c.name(), JOIN_TIMEOUT);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Listener l : toClose) {
            closeQuietly(l.socket()); // removes the socket file
        }
        LOG.info("QMP server closed");
    }

    QmpDispatcher dispatcher() {
        return dispatcher;
    }

    /** Main loop: a command's reply is about to be computed. */
    void beginCommand() {
        assert mainLoop.inMainLoop();
        inCommand = true;
        afterReplyAction = null;
    }

    /** Main loop: the reply is computed; returns what must run after it is written. */
    Runnable endCommand() {
        assert mainLoop.inMainLoop();
        inCommand = false;
        Runnable action = afterReplyAction;
        afterReplyAction = null;
        return action;
    }

    void removed(QmpConnection c) {
        connections.remove(c);
    }

    /** Whether {@code host} names only this machine (a loopback address, or a name that resolves only to one). */
    static boolean isLoopback(String host) {
        try {
            for (java.net.InetAddress a : java.net.InetAddress.getAllByName(host)) {
                if (!a.isLoopbackAddress()) {
                    return false;
                }
            }
            return true;
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    private void acceptLoop(ServerSocketChannel channel, SocketAddress address, Tls tls) {
        while (channel.isOpen()) {
            SocketChannel client;
            try {
                client = channel.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                LOG.warn("accepting a QMP client on {} failed", address, e);
                continue;
            }
            String name = "qmp#" + connectionIds.incrementAndGet();
            java.nio.channels.ByteChannel transport = client;
            if (tls != null) {
                try {
                    transport = TlsByteChannel.server(tls.context(), client, tls.verifyPeer());
                } catch (IOException e) {
                    LOG.warn("TLS for QMP client {} on {} failed", name, address, e);
                    closeQuietly(client);
                    continue;
                }
            }
            QmpConnection c = new QmpConnection(this, transport, mainLoop, name);
            synchronized (lock) {
                if (closed) {
                    c.close();
                    return;
                }
                connections.add(c);
            }
            if (tls == null) {
                // Written here, before the connection's threads exist: the greeting is the first thing a
                // client waits for. A fresh socket's send buffer always takes these ~120 bytes at once.
                try {
                    ByteBuffer b = ByteBuffer.wrap(greeting);
                    while (b.hasRemaining()) {
                        client.write(b);
                    }
                } catch (IOException e) {
                    LOG.debug("QMP client {} on {} left before its greeting: {}", name, address, e.toString());
                    c.close();
                    continue;
                }
                c.start(null);
            } else {
                c.start(greeting); // after the TLS handshake, by the connection's writer
            }
            LOG.debug("QMP client {} connected on {}", name, address);
        }
    }

    private static void closeQuietly(ListeningSocket socket) {
        try {
            socket.close();
        } catch (IOException e) {
            LOG.warn("closing QMP listener {} failed", socket.address(), e);
        }
    }

    private static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException e) {
            // closing anyway
        }
    }
}
