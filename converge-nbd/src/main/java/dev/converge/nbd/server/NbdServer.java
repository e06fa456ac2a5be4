package dev.converge.nbd.server;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
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
 * <p>Threads: one acceptor thread; one platform thread per connection that runs the handshake and
 * reads requests; requests in flight run on {@link RequestThreads} (a connection waits for its own
 * before its thread ends). {@link #close()} stops accepting, closes
 * every connection and joins every connection thread, so nothing outlives it.
 *
 * <p>Exports may be added and removed while serving; a removed export stays served to connections
 * that already selected it (as QEMU's nbd-server-remove mode=safe would refuse, we leave that policy
 * to the caller).
 */
public final class NbdServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NbdServer.class);

    private final NbdServerConfig config;
    private final ServerSocketChannel listener;
    private final SocketAddress localAddress;
    private final Thread acceptor;
    private final AtomicLong connectionIds = new AtomicLong();
    /** Guards {@link #exports}, {@link #connections} and {@link #closed}. */
    private final ReentrantLock lock = new ReentrantLock();
    /** Exports by name in registration order (LIST shows them so); guarded by {@link #lock}. */
    private final Map<String, NbdExport> exports = new LinkedHashMap<>();
    /** Live connections and their threads; guarded by {@link #lock}. */
    private final Map<Connection, Thread> connections = new HashMap<>();
    /** Futures of {@link #whenUnused} by export, by identity as connections are matched; guarded by {@link #lock}. */
    private final Map<NbdExport, List<CompletableFuture<Void>>> unusedWaiters = new java.util.IdentityHashMap<>();
    /** Set once by {@link #close()}; guarded by {@link #lock}. */
    private boolean closed;

    private NbdServer(NbdServerConfig config, ServerSocketChannel listener) throws IOException {
        this.config = config;
        this.listener = listener;
        this.localAddress = listener.getLocalAddress();
        this.acceptor = Thread.ofPlatform().name("nbd-accept " + localAddress).daemon(true).unstarted(this::acceptLoop);
    }

    /** Binds and starts accepting. A UNIX socket path must not exist yet. */
    public static NbdServer start(NbdServerConfig config) throws IOException {
        ServerSocketChannel ch = config.address() instanceof UnixDomainSocketAddress
                ? ServerSocketChannel.open(StandardProtocolFamily.UNIX)
                : ServerSocketChannel.open();
        try {
            ch.bind(config.address());
        } catch (IOException e) {
            ch.close();
            throw new IOException("cannot listen on " + config.address() + ": " + e.getMessage(), e);
        }
        NbdServer server = new NbdServer(config, ch);
        server.acceptor.start();
        LOG.info("NBD server listening on {}{}", server.localAddress, config.tls() != null ? " (TLS)" : "");
        return server;
    }

    /** The bound address (with the chosen port when port 0 was asked for). */
    public SocketAddress localAddress() {
        return localAddress;
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

    private void admit(SocketChannel ch, Handshake.Context ctx) {
        String peer = peerOf(ch);
        String name = "nbd-conn-" + connectionIds.incrementAndGet();
        lock.lock();
        try {
            if (closed || connections.size() >= config.maxConnections()) {
                LOG.info("{}: refusing {} ({})", name, peer, closed ? "server closed"
                        : "max-connections " + config.maxConnections() + " reached");
                closeQuietly(ch);
                return;
            }
            Connection[] self = new Connection[1];
            Connection c = new Connection(name, ch, peer, ctx, config, () -> transmitting(self[0]),
                    () -> ended(self[0]));
            self[0] = c;
            // a platform thread: its socket reads block in the kernel, not through the virtual-thread poller
            Thread t = Thread.ofPlatform().daemon(true).name(name).unstarted(c);
            connections.put(c, t);
            t.start();
        } finally {
            lock.unlock();
        }
        LOG.debug("{}: accepted {}", name, peer);
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
        for (Connection c : connections.keySet()) {
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
            for (Connection c : connections.keySet()) {
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
        List<Thread> threads;
        lock.lock();
        try {
            closed = true;
            threads = new ArrayList<>(connections.values());
            connections.keySet().forEach(Connection::close);
        } finally {
            lock.unlock();
        }
        closeQuietly(listener);
        boolean interrupted = false;
        for (Thread t : prepend(acceptor, threads)) {
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (config.address() instanceof UnixDomainSocketAddress unix) {
            try {
                Files.deleteIfExists(unix.getPath());
            } catch (IOException e) {
                LOG.warn("cannot remove socket {}: {}", unix.getPath(), e.toString());
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static List<Thread> prepend(Thread first, List<Thread> rest) {
        List<Thread> all = new ArrayList<>(rest.size() + 1);
        all.add(first);
        all.addAll(rest);
        return all;
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // closing is all that is left to do
        }
    }
}
