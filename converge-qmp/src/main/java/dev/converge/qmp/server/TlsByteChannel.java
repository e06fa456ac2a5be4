package dev.converge.qmp.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.SocketChannel;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * A QMP connection over TLS (QEMU's chardev socket with tls-creds): the JDK's SSLSocket layered
 * on the accepted socket, seen as a blocking ByteChannel by the connection's reader and writer
 * threads (an SSLSocket takes one reader and one writer at once). The reader runs the handshake
 * first, bounded by {@link QmpServer.Timeouts} (the writer's greeting joins it).
 */
final class TlsByteChannel implements ByteChannel {
    private final SSLSocket socket;
    /** The accepted connection under {@link #socket}: closed directly, so that a close never waits for a stuck write. */
    private final SocketChannel raw;
    private final InputStream in;
    private final OutputStream out;

    private TlsByteChannel(SSLSocket socket, SocketChannel raw) throws IOException {
        this.socket = socket;
        this.raw = raw;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    /**
     * The server side of TLS on {@code accepted}.
     *
     * @param verifyPeer whether the client must present a certificate the context trusts (verify-peer)
     */
    static TlsByteChannel server(SSLContext tls, SocketChannel accepted, boolean verifyPeer) throws IOException {
        SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket(accepted.socket(), null,
                accepted.socket().getPort(), true);
        s.setUseClientMode(false);
        s.setNeedClientAuth(verifyPeer);
        return new TlsByteChannel(s, accepted);
    }

    /** Runs the TLS handshake now (on the reader; the server bounds it, see QmpServer.Timeouts). */
    void handshake() throws IOException {
        socket.startHandshake();
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        byte[] b = new byte[Math.min(dst.remaining(), 16 * 1024)];
        int n = in.read(b);
        if (n > 0) {
            dst.put(b, 0, n);
        }
        return n;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        int n = src.remaining();
        if (src.hasArray()) {
            out.write(src.array(), src.arrayOffset() + src.position(), n);
            src.position(src.limit());
        } else {
            byte[] b = new byte[n];
            src.get(b);
            out.write(b);
        }
        out.flush();
        return n;
    }

    @Override
    public boolean isOpen() {
        return raw.isOpen();
    }

    @Override
    public void close() throws IOException {
        // The raw channel, not the SSLSocket: its close would send close_notify, which waits for a
        // writer stuck on a client that does not read; a cut-off client gets no goodbye.
        raw.close();
    }
}
