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
 * threads (an SSLSocket takes one reader and one writer at once). The handshake happens on the
 * first read or write.
 */
final class TlsByteChannel implements ByteChannel {
    private final SSLSocket socket;
    private final InputStream in;
    private final OutputStream out;

    private TlsByteChannel(SSLSocket socket) throws IOException {
        this.socket = socket;
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
        return new TlsByteChannel(s);
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
        return !socket.isClosed();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
