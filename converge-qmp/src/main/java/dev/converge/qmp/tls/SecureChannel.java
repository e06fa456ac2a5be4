package dev.converge.qmp.tls;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import java.util.List;
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
        SSLEngine engine = context.createSSLEngine(hostname, 0);
        engine.setUseClientMode(true);
        SSLParameters p = engine.getSSLParameters();
        p.setEndpointIdentificationAlgorithm("HTTPS"); // the certificate must name hostname
        if (!isAddress(hostname)) {
            p.setServerNames(List.of(new SNIHostName(hostname)));
        }
        engine.setSSLParameters(p);
        return handshake(connected, engine, hostname);
    }

    /**
     * The server side on {@code accepted}: handshakes now; with {@code verifyPeer} the client
     * must present a certificate the context's CA signed.
     *
     * @throws IOException "TLS handshake failed: ..." naming why
     */
    public static SecureChannel server(SocketChannel accepted, SSLContext context, boolean verifyPeer) throws IOException {
        SSLEngine engine = context.createSSLEngine();
        engine.setUseClientMode(false);
        engine.setNeedClientAuth(verifyPeer);
        return handshake(accepted, engine, String.valueOf(accepted.getRemoteAddress()));
    }

    private static SecureChannel handshake(SocketChannel ch, SSLEngine engine, String peer) throws IOException {
        TlsTransport t = new TlsTransport(ch, engine, ByteBuffer.allocate(0), peer);
        try {
            t.handshake();
        } catch (SSLException | java.io.EOFException e) {
            throw new IOException("TLS handshake failed: " + e.getMessage(), e);
        }
        return new SecureChannel(t, ch);
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

    @Override
    public boolean isOpen() {
        return raw.isOpen();
    }

    @Override
    public void close() throws IOException {
        tls.close();
    }
}
