package dev.converge.nbd.server;

import dev.converge.nbd.transport.NbdTlsConfig;
import dev.converge.qmp.tls.PlainTransport;
import dev.converge.qmp.tls.TlsTransport;
import dev.converge.qmp.tls.Transport;
import dev.converge.nbd.wire.ClientFlags;
import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.nbd.wire.NbdProtocolException;
import dev.converge.nbd.wire.OptionRequest;
import dev.converge.nbd.wire.ServerGreeting;
import java.io.EOFException;
import java.io.IOException;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicReference;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.security.auth.x500.X500Principal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection: greeting, handshake (driven by {@link Handshake#step}), optional TLS upgrade,
 * then {@link Transmission}. Any failure ends this connection only.
 *
 * <p>Threads: the handshake runs on a virtual thread with a small heap buffer, so a connection that
 * never completes it costs a few KiB and no platform thread; it is closed when the server's handshake
 * timeout fires first ({@link #handshakeTimedOut}). Transmission runs on a platform thread started
 * when the handshake ends (its socket reads block in the kernel, which measured faster than the
 * virtual-thread poller for the request stream), with a direct read buffer.
 */
final class Connection {
    private static final Logger LOG = LoggerFactory.getLogger(Connection.class);
    /** Read buffer size in transmission: many request headers, or the rest of a WRITE's payload. */
    private static final int READ_BUFFER = 256 * 1024;
    /** Initial handshake buffer; it grows up to one option frame of the largest size. */
    private static final int HANDSHAKE_BUFFER = 1024;
    private static final int MAX_FRAME = NbdProtocol.OPTION_HEADER_SIZE + NbdProtocol.MAX_OPTION_SIZE;
    /** Send and receive buffer of UNIX sockets in transmission: a few 256 KiB requests each way. */
    static final int UNIX_SOCKET_BUFFER = 4 << 20;

    private final String name;
    private final SocketChannel channel;
    private final Handshake.Context context;
    private final NbdServerConfig config;
    private final Runnable onEnd;
    private final RequestMemory memory;
    /** HANDSHAKING until the handshake thread (DONE) or the timeout (TIMED_OUT) moves it on; once. */
    private final AtomicReference<Phase> phase = new AtomicReference<>(Phase.HANDSHAKING);
    /** The virtual thread of the handshake; set once before it starts. */
    private volatile Thread handshakeThread;
    /** The platform thread of the transmission, or null; set once by the handshake thread before it ends. */
    private volatile Thread transmissionThread;
    /** The handshake's read buffer; confined to the handshake thread (it may grow). */
    private ByteBuffer in = ByteBuffer.allocate(HANDSHAKE_BUFFER);

    private enum Phase { HANDSHAKING, DONE, TIMED_OUT }
    /** Called on the reader thread once the export is chosen, before any request is read. */
    private final Runnable onTransmission;
    /** Replaced once by the TLS upgrade (reader thread); volatile because {@link #close()} runs elsewhere. */
    private volatile Transport transport;
    /** The export this connection transmits on, null during the handshake; set once by the reader thread. */
    private volatile NbdExport export;

    Connection(String name, SocketChannel channel, String peer, Handshake.Context context, NbdServerConfig config,
               RequestMemory memory, Runnable onTransmission, Runnable onEnd) {
        this.memory = memory;
        this.name = name;
        this.channel = channel;
        this.context = context;
        this.config = config;
        this.onEnd = onEnd;
        this.onTransmission = onTransmission;
        this.transport = new PlainTransport(channel, peer);
    }

    String name() {
        return name;
    }

    /** The export in transmission, or null while the handshake runs (or when it ended without one). */
    NbdExport export() {
        return export;
    }

    /** Starts the handshake on a virtual thread. */
    void start() {
        Thread t = Thread.ofVirtual().name(name).unstarted(this::handshakeThenHandOver);
        handshakeThread = t;
        t.start();
    }

    /**
     * Called by the server's timer when the handshake limit has passed: closes the connection if it is
     * still handshaking (the handshake thread then fails its I/O and ends); otherwise nothing.
     */
    void handshakeTimedOut(java.time.Duration limit) {
        if (phase.compareAndSet(Phase.HANDSHAKING, Phase.TIMED_OUT)) {
            LOG.info("{}: handshake not completed within {} s, disconnecting", name, limit.toSeconds());
            close();
        }
    }

    /** Waits until the connection's threads have ended. */
    void join() throws InterruptedException {
        Thread h = handshakeThread;
        if (h != null) {
            h.join();
        }
        Thread t = transmissionThread; // set before the handshake thread ended
        if (t != null) {
            t.join();
        }
    }

    private void handshakeThenHandOver() {
        boolean handedOver = false;
        try {
            Handshake.State state = handshake();
            if (state instanceof Handshake.Transmitting t) {
                if (!phase.compareAndSet(Phase.HANDSHAKING, Phase.DONE)) {
                    return; // the timeout closed us a moment ago
                }
                export = t.export();
                onTransmission.run();
                LOG.debug("{}: transmission on export '{}' (structured={}, contexts={})", name, t.export().name(),
                        t.structured(), t.contexts());
                // direct: the socket reads into it without the JDK's bounce buffer; it takes any request
                // bytes the client pipelined behind its last option
                ByteBuffer direct = ByteBuffer.allocateDirect(READ_BUFFER);
                direct.put(in.flip());
                in = null;
                Thread th = Thread.ofPlatform().daemon(true).name(name).unstarted(() -> transmit(t, direct));
                transmissionThread = th;
                th.start();
                handedOver = true;
            } else if (state instanceof Handshake.Closed c) {
                LOG.debug("{}: handshake ended: {}", name, c.reason());
            }
        } catch (NbdProtocolException e) {
            LOG.info("{}: protocol error, closing: {}", name, e.getMessage());
        } catch (IOException e) {
            LOG.debug("{}: connection closed during the handshake: {}", name, e.toString());
        } catch (RuntimeException e) {
            LOG.error("{}: internal error, closing the connection", name, e);
        } finally {
            if (!handedOver) {
                phase.compareAndSet(Phase.HANDSHAKING, Phase.DONE);
                closeGracefully();
                onEnd.run();
            }
        }
    }

    private void transmit(Handshake.Transmitting t, ByteBuffer direct) {
        try {
            growUnixSocketBuffers();
            ConnectionMemory share = new ConnectionMemory(memory, config.connectionMemory(),
                    config.memoryWait().toNanos());
            new Transmission(t, transport, config.maxInFlight(), share, name).run(direct);
        } catch (NbdProtocolException e) {
            LOG.info("{}: protocol error, closing: {}", name, e.getMessage());
        } catch (IOException e) {
            LOG.debug("{}: connection closed: {}", name, e.toString());
        } catch (RuntimeException e) {
            LOG.error("{}: internal error, closing the connection", name, e);
        } finally {
            closeGracefully();
            onEnd.run();
        }
    }

    /**
     * UNIX sockets do not autotune their buffers (TCP does, and a fixed size would switch that off):
     * at the default ~208 KiB one 256 KiB reply does not fit, and every large reply or WRITE costs
     * several wake-ups. The kernel caps the size at net.core.wmem_max/rmem_max; best effort.
     */
    private void growUnixSocketBuffers() {
        try {
            if (channel.getLocalAddress() instanceof UnixDomainSocketAddress) {
                channel.setOption(StandardSocketOptions.SO_SNDBUF, UNIX_SOCKET_BUFFER);
                channel.setOption(StandardSocketOptions.SO_RCVBUF, UNIX_SOCKET_BUFFER);
            }
        } catch (IOException | UnsupportedOperationException e) {
            LOG.debug("{}: cannot size the socket buffers: {}", name, e.toString());
        }
    }

    private Handshake.State handshake() throws IOException {
        transport.write(ServerGreeting.standard().encode());
        ClientFlags flags = readFrame(ClientFlags::decode);
        Handshake.State state = Handshake.start(flags);
        while (state instanceof Handshake.Negotiating) {
            OptionRequest option = readFrame(OptionRequest::decode);
            Handshake.Step step = Handshake.step(state, option, context);
            LOG.debug("{}: {} → {}", name, option, step.next().getClass().getSimpleName());
            if (!step.replies().isEmpty()) {
                try {
                    transport.write(step.replies().toArray(ByteBuffer[]::new));
                } catch (IOException e) {
                    if (step.next() instanceof Handshake.Closed) {
                        return step.next(); // a client that sent ABORT may not wait for our ack
                    }
                    throw e;
                }
            }
            if (step.action() == Handshake.Action.START_TLS) {
                startTls();
            }
            state = step.next();
        }
        return state;
    }

    private void startTls() throws IOException {
        NbdTlsConfig tls = config.tls();
        SSLEngine engine = tls.context().createSSLEngine();
        engine.setUseClientMode(false);
        engine.setNeedClientAuth(tls.verifyPeer());
        engine.setEnabledProtocols(tls.protocols().toArray(String[]::new));
        in.flip();
        TlsTransport t = new TlsTransport(channel, engine, in, transport.peer());
        in.clear();
        transport = t;
        t.handshake();
        if (tls.checksClients()) {
            X500Principal subject;
            try {
                Certificate[] chain = t.session().getPeerCertificates();
                subject = ((X509Certificate) chain[0]).getSubjectX500Principal();
            } catch (SSLPeerUnverifiedException e) {
                throw new IOException("TLS client presented no certificate", e);
            }
            if (!tls.authorizes(subject)) {
                throw new IOException("TLS client '" + subject.getName() + "' is not in the authz allow-list");
            }
        }
        LOG.debug("{}: TLS up ({})", name, t.session().getProtocol());
    }

    /** A decoder that returns null, consuming nothing, while the frame is incomplete. */
    @FunctionalInterface
    interface FrameDecoder<T> {
        T decode(ByteBuffer in) throws NbdProtocolException;
    }

    private <T> T readFrame(FrameDecoder<T> decoder) throws IOException {
        while (true) {
            in.flip();
            T t;
            try {
                t = decoder.decode(in);
            } finally {
                in.compact();
            }
            if (t != null) {
                return t;
            }
            if (!in.hasRemaining()) {
                if (in.capacity() >= MAX_FRAME) {
                    throw new IllegalStateException("read buffer too small for a handshake frame");
                }
                // a frame larger than what we hold: grow (the decoders check the length limit first)
                ByteBuffer bigger = ByteBuffer.allocate(Math.min(MAX_FRAME, in.capacity() * 4));
                in = bigger.put(in.flip());
            }
            if (transport.read(in) < 0) {
                throw new EOFException("client closed the connection during the handshake");
            }
        }
    }

    /** End of the connection's own thread: TLS close_notify, then the socket. */
    private void closeGracefully() {
        try {
            transport.close();
        } catch (IOException e) {
            LOG.debug("{}: close: {}", name, e.toString());
        }
        close();
    }

    /**
     * Closes the socket from any thread, more than once if need be; the reader and the request threads
     * then fail their I/O and end. The socket goes first so nothing (not even TLS close_notify to a
     * peer that stopped reading) can block the caller.
     */
    void close() {
        try {
            channel.close();
        } catch (IOException e) {
            LOG.debug("{}: close: {}", name, e.toString());
        }
    }
}
