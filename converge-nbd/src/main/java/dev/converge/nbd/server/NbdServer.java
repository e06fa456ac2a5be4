package dev.converge.nbd.server;

import dev.converge.qmp.net.ListeningSocket;
import java.io.IOException;
import java.net.StandardSocketOptions;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.locks.Condition;
import jdk.net.ExtendedSocketOptions;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An NBD server (fixed newstyle, structured replies, meta contexts, STARTTLS) on a TCP or UNIX socket,
 * serving registered {@link NbdExport}s to qemu-img, qemu-io, nbdinfo, nbdcopy and the like.
 *
 * <p>Threads: one acceptor thread; a virtual thread per connection for the handshake, then a platform
 * thread that reads its requests; requests in flight run on {@link RequestThreads} (a connection
 * waits for its own before its thread ends). {@link #close()} stops accepting, closes every
 * connection and joins every connection thread, so nothing outlives it.
 *
 * <p>Hostile and broken clients (see {@link NbdServerConfig}): at most {@code maxConnections}
 * connections, handshaking ones included; at the limit the acceptor stops accepting (as QEMU does),
 * so further clients wait in the listen backlog (as large as the system allows) instead of being
 * refused, and are served once a slot frees. A client that has not finished its handshake within
 * the handshake timeout is disconnected (CVE-2024-7409: idle sockets must not lock real clients
 * out). TCP connections have keep-alive probes, so a peer that vanished without a FIN is found.
 * Request buffers come from a process-wide budget ({@link RequestMemory}) with a per-connection share.
 *
 * <p>Exports may be added and removed while serving; a removed export stays served to connections
 * that already selected it (as QEMU's nbd-server-remove mode=safe would refuse, we leave that policy
 * to the caller).
 */
public final class NbdServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NbdServer.class);

    private final NbdServerConfig config;
    private final ListeningSocket socket;
    private final ServerSocketChannel listener;
    private final RequestMemory memory;
    private final SocketAddress localAddress;
    private final Thread acceptor;
    private final AtomicLong connectionIds = new AtomicLong();
    /** Guards {@link #exports}, {@link #connections} and {@link #closed}. */
    private final ReentrantLock lock = new ReentrantLock();
    /** Exports by name in registration order (LIST shows them so); guarded by {@link #lock}. */
    private final Map<String, NbdExport> exports = new LinkedHashMap<>();
    /** Live connections, handshaking or transmitting; guarded by {@link #lock}. */
    private final Set<Connection> connections = new HashSet<>();
    /** Signalled when a connection ends or the server closes: the acceptor waits on it at the limit. */
    private final Condition slotFreed = lock.newCondition();
    /** Futures of {@link #whenUnused} by export, by identity as connections are matched; guarded by {@link #lock}. */
    private final Map<NbdExport, List<CompletableFuture<Void>>> unusedWaiters = new java.util.IdentityHashMap<>();
    /** Set once by {@link #close()}; guarded by {@link #lock}. */
    private boolean closed;

    private NbdServer(NbdServerConfig config, ListeningSocket socket, RequestMemory memory) {
        this.config = config;
        this.socket = socket;
        this.listener = socket.channel();
        this.memory = memory;
        this.localAddress = socket.address();
        this.acceptor = Thread.ofPlatform().name("nbd-accept " + localAddress).daemon(true).unstarted(this::acceptLoop);
    }

    /**
     * Binds and starts accepting. A UNIX socket file left by a dead process is replaced; one a server
     * answers on, or a file that is not a socket, is an error (see {@link ListeningSocket}).
     */
    public static NbdServer start(NbdServerConfig config) throws IOException {
        return start(config, RequestMemory.SHARED);
    }

    /** As {@link #start(NbdServerConfig)}, with request buffers from {@code memory} (tests size it). */
    static NbdServer start(NbdServerConfig config, RequestMemory memory) throws IOException {
        ListeningSocket socket;
        try {
            socket = config.address() instanceof UnixDomainSocketAddress unix
                    ? ListeningSocket.unix(unix.getPath(), config.unixSocketMode())
                    : ListeningSocket.tcp((InetSocketAddress) config.address());
        } catch (IOException e) {
            throw new IOException("cannot listen on " + config.address() + ": " + e.getMessage(), e);
        }
        NbdServer server = new NbdServer(config, socket, memory);
        server.acceptor.start();
        LOG.info("NBD server listening on {}{}", server.localAddress, config.tls() != null ? " (TLS)" : "");
        return server;
    }

    /** The bound address (with the chosen port when port 0 was asked for). */
    public SocketAddress localAddress() {
        return localAddress;
    }

    /** Connections served at once, from the configuration. */
    public int maxConnections() {
        return config.maxConnections();
    }

    /** The bound TCP port; fails for UNIX sockets. */
    public int port() {
        if (localAddress instanceof InetSocketAddress inet) {
            return inet.getPort();
        }
        throw new IllegalStateException("not a TCP server: " + localAddress);
    }

    /** Registers an export; fails if the name is taken. */
    public void addExport(NbdExport export) {
        lock.lock();
        try {
            if (exports.putIfAbsent(export.name(), export) != null) {
                throw new IllegalArgumentException("export '" + export.name() + "' already exists");
            }
        } finally {
            lock.unlock();
        }
    }

    /** Unregisters an export for new connections; returns whether it existed. */
    public boolean removeExport(String name) {
        lock.lock();
        try {
            return exports.remove(name) != null;
        } finally {
            lock.unlock();
        }
    }

    /** The registered exports in registration order. */
    public List<NbdExport> exports() {
        lock.lock();
        try {
            return List.copyOf(exports.values());
        } finally {
            lock.unlock();
        }
    }

    private NbdExport export(String name) {
        lock.lock();
        try {
            return exports.get(name);
        } finally {
            lock.unlock();
        }
    }

    /** Connections being served now. */
    public int connectionCount() {
        lock.lock();
        try {
            return connections.size();
        } finally {
            lock.unlock();
        }
    }

    private void acceptLoop() {
        Handshake.Context ctx = new Handshake.Context(this::export, this::exports, config.tls() != null);
        while (true) {
            if (!awaitSlot()) {
                return;
            }
            SocketChannel ch;
            try {
                ch = listener.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                LOG.warn("NBD accept on {} failed: {}", localAddress, e.toString());
                if (!listener.isOpen()) {
                    return;
                }
                continue;
            }
            admit(ch, ctx);
        }
    }

    /**
     * Waits until a connection slot is free (QEMU stops accepting at max-connections likewise; the
     * clients queue in the backlog). Returns false once the server is closed.
     */
    private boolean awaitSlot() {
        lock.lock();
        try {
            boolean logged = false;
            while (!closed && connections.size() >= config.maxConnections()) {
                if (!logged) {
                    LOG.info("NBD server {}: max-connections {} reached; new clients wait", localAddress,
                            config.maxConnections());
                    logged = true;
                }
                slotFreed.awaitUninterruptibly();
            }
            return !closed;
        } finally {
            lock.unlock();
        }
    }

    private void admit(SocketChannel ch, Handshake.Context ctx) {
        String peer = peerOf(ch);
        String name = "nbd-conn-" + connectionIds.incrementAndGet();
        keepAlive(ch);
        lock.lock();
        try {
            if (closed) {
                closeQuietly(ch);
                return;
            }
            Connection[] self = new Connection[1];
            Connection c = new Connection(name, ch, peer, ctx, config, memory, () -> transmitting(self[0]),
                    () -> ended(self[0]));
            self[0] = c;
            connections.add(c);
            c.start();
            Duration limit = config.handshakeTimeout();
            if (!limit.isZero()) {
                HandshakeTimer.schedule(() -> c.handshakeTimedOut(limit), limit);
            }
        } finally {
            lock.unlock();
        }
        LOG.debug("{}: accepted {}", name, peer);
    }

    /**
     * TCP keep-alive probes after 30 s of silence, every 10 s, 3 of them: a peer that vanished without
     * closing (power loss, a cut cable) is found within about a minute instead of never. Best effort.
     */
    private static void keepAlive(SocketChannel ch) {
        try {
            if (ch.getLocalAddress() instanceof InetSocketAddress) {
                ch.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
                ch.setOption(ExtendedSocketOptions.TCP_KEEPIDLE, 30);
                ch.setOption(ExtendedSocketOptions.TCP_KEEPINTERVAL, 10);
                ch.setOption(ExtendedSocketOptions.TCP_KEEPCOUNT, 3);
            }
        } catch (IOException | UnsupportedOperationException e) {
            LOG.debug("cannot set keep-alive: {}", e.toString());
        }
    }

    private void transmitting(Connection c) {
        lock.lock();
        try {
            if (!exports.containsValue(c.export())) {
                // removed between the client's choice and now: serve nothing of it (QEMU closes such clients)
                c.close();
            }
        } finally {
            lock.unlock();
        }
    }

    private void ended(Connection c) {
        List<CompletableFuture<Void>> done = new ArrayList<>();
        lock.lock();
        try {
            connections.remove(c);
            slotFreed.signalAll();
            NbdExport e = c.export();
            if (e != null && countLocked(e) == 0) {
                List<CompletableFuture<Void>> w = unusedWaiters.remove(e);
                if (w != null) {
                    done.addAll(w);
                }
            }
        } finally {
            lock.unlock();
        }
        done.forEach(f -> f.complete(null)); // outside the lock: completions run callbacks
    }

    /** Connections transmitting on {@code export} now (the handshake of others does not count). */
    public int connectionCount(NbdExport export) {
        lock.lock();
        try {
            return countLocked(export);
        } finally {
            lock.unlock();
        }
    }

    private int countLocked(NbdExport export) {
        assert lock.isHeldByCurrentThread();
        int n = 0;
        for (Connection c : connections) {
            if (c.export() == export) {
                n++;
            }
        }
        return n;
    }

    /**
     * Closes every connection transmitting on {@code export} (QEMU's block-export-del mode=hard); their
     * threads end on their own, {@link #whenUnused} tells when. Requests in flight fail on the closed socket.
     */
    public void closeConnections(NbdExport export) {
        lock.lock();
        try {
            for (Connection c : connections) {
                if (c.export() == export) {
                    c.close();
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Completes once no connection transmits on {@code export} any more: at once when none does now.
     * It completes on the thread of the last connection to end (or the caller's), so callers should
     * hand work to their own executor.
     */
    public CompletableFuture<Void> whenUnused(NbdExport export) {
        lock.lock();
        try {
            if (countLocked(export) == 0) {
                return CompletableFuture.completedFuture(null);
            }
            CompletableFuture<Void> f = new CompletableFuture<>();
            unusedWaiters.computeIfAbsent(export, k -> new ArrayList<>()).add(f);
            return f;
        } finally {
            lock.unlock();
        }
    }

    private static String peerOf(SocketChannel ch) {
        try {
            SocketAddress a = ch.getRemoteAddress();
            return a == null ? "unix peer" : a.toString();
        } catch (IOException e) {
            return "unknown peer";
        }
    }

    /** Stops accepting, closes every connection and waits until their threads have ended. Idempotent. */
    @Override
    public void close() {
        List<Connection> live;
        lock.lock();
        try {
            closed = true;
            slotFreed.signalAll();
            live = new ArrayList<>(connections);
            live.forEach(Connection::close);
        } finally {
            lock.unlock();
        }
        closeQuietly(listener);
        boolean interrupted = false;
        while (true) {
            try {
                acceptor.join();
                for (Connection c : live) {
                    c.join();
                }
                break;
            } catch (InterruptedException e) {
                interrupted = true; // joining again is harmless: ended threads join at once
            }
        }
        try {
            socket.close(); // removes a UNIX socket file that is still ours
        } catch (IOException e) {
            LOG.warn("cannot remove socket {}: {}", localAddress, e.toString());
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // closing is all that is left to do
        }
    }
}
