package dev.converge.qmp.tls;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;

/**
 * A connected socket channel with TLS from its first byte ({@link TlsTransport}: an
 * {@code SSLEngine}, so TCP and UNIX sockets alike), seen as a blocking byte channel with
 * gathering writes: what a migration's channels (main, return path, multifd) use when
 * {@code tls-creds} is set. One reader and one writer may use it at once. Closing it closes the
 * socket, which ends a blocked read or write on another thread (a cancel).
 */
public final class SecureChannel implements ByteChannel, GatheringByteChannel {
    /**
     * How long a handshake may take before the connection is closed and the handshake fails with
     * "TLS handshake failed: no TLS handshake within 10000 ms (handshake timeout)": a peer that
     * connected and then says nothing must not hold a migration (or its channels' accept thread)
     * forever. The same bound as the QMP and NBD handshakes.
     */
    public static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

    private final TlsTransport tls;
    private final SocketChannel raw;

    private SecureChannel(TlsTransport tls, SocketChannel raw) {
        this.tls = tls;
        this.raw = raw;
    }

    /**
     * The client side on {@code connected}: handshakes now, checking the server's certificate
     * against the context's CA and against {@code hostname} (a DNS name or an IP address).
     *
     * @throws IOException "TLS handshake failed: ..." naming why
     */
    public static SecureChannel client(SocketChannel connected, SSLContext context, String hostname) throws IOException {
        return client(connected, context, hostname, HANDSHAKE_TIMEOUT);
    }

    /** As {@link #client(SocketChannel, SSLContext, String)}, the handshake bounded by {@code timeout}. */
    public static SecureChannel client(SocketChannel connected, SSLContext context, String hostname, Duration timeout)
            throws IOException {
        SSLEngine engine = context.createSSLEngine(hostname, 0);
        engine.setUseClientMode(true);
        SSLParameters p = engine.getSSLParameters();
        p.setEndpointIdentificationAlgorithm("HTTPS"); // the certificate must name hostname
        if (!isAddress(hostname)) {
            p.setServerNames(List.of(new SNIHostName(hostname)));
        }
        engine.setSSLParameters(p);
        return handshake(connected, engine, hostname, timeout);
    }

    /**
     * The server side on {@code accepted}: handshakes now; with {@code verifyPeer} the client
     * must present a certificate the context's CA signed.
     *
     * @throws IOException "TLS handshake failed: ..." naming why
     */
    public static SecureChannel server(SocketChannel accepted, SSLContext context, boolean verifyPeer) throws IOException {
        return server(accepted, context, verifyPeer, HANDSHAKE_TIMEOUT);
    }

    /** As {@link #server(SocketChannel, SSLContext, boolean)}, the handshake bounded by {@code timeout}. */
    public static SecureChannel server(SocketChannel accepted, SSLContext context, boolean verifyPeer, Duration timeout)
            throws IOException {
        SSLEngine engine = context.createSSLEngine();
        engine.setUseClientMode(false);
        engine.setNeedClientAuth(verifyPeer);
        return handshake(accepted, engine, String.valueOf(accepted.getRemoteAddress()), timeout);
    }

    /**
     * Runs the handshake on the calling thread; a watchdog closes the socket when it has not
     * ended within {@code timeout} (the blocked read or write then fails, and the failure is
     * reported as the timeout). A close from another thread (a cancel) ends it too.
     */
    private static SecureChannel handshake(SocketChannel ch, SSLEngine engine, String peer, Duration timeout)
            throws IOException {
        TlsTransport t = new TlsTransport(ch, engine, ByteBuffer.allocate(0), peer);
        AtomicInteger state = closeAfter(ch, timeout);
        try {
            t.handshake();
        } catch (IOException e) {
            if (!state.compareAndSet(HANDSHAKING, DONE)) {
                throw new IOException("TLS handshake failed: no TLS handshake within " + timeout.toMillis()
                        + " ms (handshake timeout)", e);
            }
            closeQuietly(ch);
            throw e instanceof SSLException || e instanceof java.io.EOFException
                    ? new IOException("TLS handshake failed: " + e.getMessage(), e) : e;
        }
        if (!state.compareAndSet(HANDSHAKING, DONE)) {
            throw new IOException("TLS handshake failed: no TLS handshake within " + timeout.toMillis()
                    + " ms (handshake timeout)");
        }
        return new SecureChannel(t, ch);
    }

    /** A bounded step's state: running until it ends (DONE) or the watchdog closed the socket (TIMED_OUT); once. */
    private static final int HANDSHAKING = 0;
    private static final int DONE = 1;
    private static final int TIMED_OUT = 2;

    /**
     * A watchdog: closes {@code ch} after {@code timeout} unless the returned state moved from
     * HANDSHAKING (to DONE) by then.
     */
    private static AtomicInteger closeAfter(SocketChannel ch, Duration timeout) {
        AtomicInteger state = new AtomicInteger(HANDSHAKING);
        CompletableFuture.delayedExecutor(timeout.toNanos(), TimeUnit.NANOSECONDS).execute(() -> {
            if (state.compareAndSet(HANDSHAKING, TIMED_OUT)) {
                closeQuietly(ch);
            }
        });
        return state;
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // closing is all there is to do
        }
    }

    private static boolean isAddress(String host) {
        return host.indexOf(':') >= 0 || host.chars().allMatch(c -> c == '.' || Character.isDigit(c));
    }

    /** The session: the peer's certificate, protocol, cipher suite. */
    public SSLSession session() {
        return tls.session();
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return tls.read(dst);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        int n = src.remaining();
        tls.write(src);
        return n - src.remaining();
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        ByteBuffer[] part = offset == 0 && length == srcs.length ? srcs : Arrays.copyOfRange(srcs, offset, offset + length);
        long before = 0;
        for (ByteBuffer b : part) {
            before += b.remaining();
        }
        tls.write(part);
        long after = 0;
        for (ByteBuffer b : part) {
            after += b.remaining();
        }
        return before - after;
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
        return write(srcs, 0, srcs.length);
    }

    /**
     * Ends this side's reading now: a read blocked on another thread returns end of stream (the
     * socket's input is shut down; the output stays open, e.g. for a last error message).
     */
    public void shutdownInput() throws IOException {
        raw.shutdownInput();
    }

    /**
     * Ends the connection in order, for a side that only wrote: close_notify and the end of
     * the output go out after everything written, then whatever the peer still sends (a TLS 1.3
     * server's session tickets, which nobody read) is read and dropped until the peer closes,
     * at most {@code timeout}; then the socket is closed. Closing a socket with unread input
     * would reset the connection (the kernel sends RST), and a reset loses what the peer has not
     * read yet, the last records included.
     */
    public void closeGracefully(Duration timeout) throws IOException {
        AtomicInteger state = closeAfter(raw, timeout);
        try {
            tls.shutdownOutput();
            raw.shutdownOutput();
            ByteBuffer sink = ByteBuffer.allocate(4096);
            while (tls.read(sink.clear()) >= 0) {
                // dropped: a writer's peer has nothing to say that matters after the last record
            }
        } catch (IOException e) {
            if (state.get() != TIMED_OUT) {
                throw e;
            }
        } finally {
            state.compareAndSet(HANDSHAKING, DONE);
            raw.close();
        }
    }

    @Override
    public boolean isOpen() {
        return raw.isOpen();
    }

    @Override
    public void close() throws IOException {
        tls.close();
    }
}
