package dev.converge.nbd.client;

import dev.converge.qmp.tls.PlainTransport;
import dev.converge.qmp.tls.TlsTransport;
import dev.converge.qmp.tls.Transport;
import dev.converge.nbd.wire.ClientFlags;
import dev.converge.nbd.wire.NbdProtocol.ClientFlag;
import dev.converge.nbd.wire.NbdProtocol.HandshakeFlag;
import dev.converge.nbd.wire.NbdProtocol.InfoType;
import dev.converge.nbd.wire.NbdProtocol.OptionReplyType;
import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.nbd.wire.NbdProtocolException;
import dev.converge.nbd.wire.OptionReply;
import dev.converge.nbd.wire.OptionRequest;
import dev.converge.nbd.wire.ServerGreeting;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * The client side of the fixed-newstyle handshake, straight-line as the side that drives it:
 * greeting, flags, STARTTLS (when configured), STRUCTURED_REPLY, SET_META_CONTEXT base:allocation,
 * GO with block sizes. What it learnt is returned as a {@link Negotiated}.
 */
final class ClientHandshake {
    private ClientHandshake() {
    }

    /**
     * What the handshake agreed.
     *
     * @param allocationContext the base:allocation context id, or -1 when the server has none
     */
    record Negotiated(SocketChannel channel, Transport transport, ByteBuffer in, long size, int flags,
                      boolean structured, int allocationContext, int minBlock, int maxBlock) {
        boolean has(NbdProtocol.TransmissionFlag f) {
            return (flags & f.code()) != 0;
        }
    }

    /** Send and receive buffer of a UNIX socket connection. */
    static final int UNIX_SOCKET_BUFFER = 4 << 20;

    /**
     * Connects and negotiates within {@link NbdClientConfig#connectTimeout()}: a watchdog closes
     * the channel when it passes, which ends a blocked connect, read or write at once.
     */
    static Negotiated connect(NbdClientConfig config) throws IOException {
        SocketChannel ch = config.address() instanceof UnixDomainSocketAddress
                ? SocketChannel.open(StandardProtocolFamily.UNIX) : SocketChannel.open();
        // 0: connecting, 1: done in time, 2: expired (the watchdog closed the channel). One CAS decides.
        java.util.concurrent.atomic.AtomicInteger state = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.CompletableFuture.runAsync(() -> {
            if (state.compareAndSet(0, 2)) {
                closeQuietly(ch);
            }
        }, java.util.concurrent.CompletableFuture.delayedExecutor(config.connectTimeout().toNanos(),
                java.util.concurrent.TimeUnit.NANOSECONDS, r -> Thread.ofVirtual().name("nbd-connect-timeout").start(r)));
        try {
            Negotiated n = connectOn(ch, config);
            if (state.compareAndSet(0, 1)) {
                return n;
            }
            throw new IOException("closed by the connect timeout");
        } catch (IOException | RuntimeException e) {
            if (state.compareAndSet(0, 1)) {
                throw e;
            }
            closeQuietly(ch);
            throw new java.net.SocketTimeoutException("no NBD handshake with " + config.address() + " within "
                    + config.connectTimeout().toMillis() + " ms (connect timeout)");
        }
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    private static Negotiated connectOn(SocketChannel ch, NbdClientConfig config) throws IOException {
        try {
            ch.connect(config.address());
            if (config.address() instanceof InetSocketAddress) {
                ch.socket().setTcpNoDelay(true);
            } else {
                // UNIX sockets do not autotune: room for several 1 MiB mirror writes in flight (capped by
                // net.core.wmem_max/rmem_max)
                ch.setOption(java.net.StandardSocketOptions.SO_SNDBUF, UNIX_SOCKET_BUFFER);
                ch.setOption(java.net.StandardSocketOptions.SO_RCVBUF, UNIX_SOCKET_BUFFER);
            }
            return negotiate(ch, config);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static Negotiated negotiate(SocketChannel ch, NbdClientConfig config) throws IOException {
        ByteBuffer in = ByteBuffer.allocate(64 << 10);
        Transport t = new PlainTransport(ch, config.address().toString());
        ServerGreeting g = read(t, in, ServerGreeting::decode);
        if (!g.flags().contains(HandshakeFlag.FIXED_NEWSTYLE)) {
            throw new IOException("server " + config.address() + " does not speak fixed newstyle NBD");
        }
        EnumSet<ClientFlag> flags = EnumSet.of(ClientFlag.FIXED_NEWSTYLE);
        if (g.flags().contains(HandshakeFlag.NO_ZEROES)) {
            flags.add(ClientFlag.NO_ZEROES);
        }
        t.write(new ClientFlags(flags).encode());
        if (config.tls() != null) {
            expectAck(option(t, in, OptionRequest.startTls()), "STARTTLS");
            SSLEngine engine = config.address() instanceof InetSocketAddress inet
                    ? config.tls().createSSLEngine(inet.getHostString(), inet.getPort())
                    : config.tls().createSSLEngine();
            engine.setUseClientMode(true);
            String host = config.verifiedHostname();
            if (host != null) {
                SSLParameters p = engine.getSSLParameters();
                p.setEndpointIdentificationAlgorithm("HTTPS");
                p.setServerNames(isIpLiteral(host) ? List.of() : List.of(new javax.net.ssl.SNIHostName(host)));
                engine.setSSLParameters(p);
            }
            in.flip();
            TlsTransport tls = new TlsTransport(ch, engine, in, t.peer());
            in.clear();
            t = tls;
            tls.handshake();
        }
        List<OptionReply> sr = option(t, in, OptionRequest.structuredReply());
        boolean structured = last(sr).type() == OptionReplyType.ACK;
        int allocation = -1;
        if (structured) {
            List<OptionReply> mc = option(t, in, OptionRequest.setMetaContext(config.export(),
                    List.of(NbdProtocol.CONTEXT_BASE_ALLOCATION)));
            for (OptionReply r : mc) {
                if (r.type() == OptionReplyType.META_CONTEXT) {
                    allocation = r.payload().getInt(0);
                }
            }
        }
        List<OptionReply> go = option(t, in, OptionRequest.go(config.export(), List.of(InfoType.BLOCK_SIZE)));
        OptionReply end = last(go);
        if (end.type() != OptionReplyType.ACK) {
            throw new IOException("server " + config.address() + " refused export '" + config.export() + "': "
                    + end.type() + (end.message().isEmpty() ? "" : ": " + end.message()));
        }
        long size = -1;
        int tflags = 0;
        int min = 1;
        int max = NbdProtocol.MAX_BUFFER_SIZE;
        for (OptionReply r : go) {
            ByteBuffer p = r.payload();
            if (r.type() == OptionReplyType.INFO && p.remaining() >= 2) {
                int info = p.getShort(0) & 0xffff;
                if (info == InfoType.EXPORT.code() && p.remaining() >= 12) {
                    size = p.getLong(2);
                    tflags = p.getShort(10) & 0xffff;
                } else if (info == InfoType.BLOCK_SIZE.code() && p.remaining() >= 14) {
                    min = p.getInt(2);
                    max = Math.min(max, p.getInt(10));
                }
            }
        }
        if (size < 0) {
            throw new IOException("server " + config.address() + " sent no export size for '" + config.export() + "'");
        }
        return new Negotiated(ch, t, in, size, tflags, structured, allocation, Math.max(1, min), Math.max(min, max));
    }

    private static boolean isIpLiteral(String host) {
        return host.matches("[0-9.]+") || host.contains(":");
    }

    private static OptionReply last(List<OptionReply> l) {
        return l.getLast();
    }

    private static void expectAck(List<OptionReply> replies, String what) throws IOException {
        OptionReply r = last(replies);
        if (r.type() != OptionReplyType.ACK) {
            throw new IOException(what + " refused by the server: " + r.type()
                    + (r.message().isEmpty() ? "" : ": " + r.message()));
        }
    }

    /** Sends an option, reads replies up to its ACK or error. */
    private static List<OptionReply> option(Transport t, ByteBuffer in, OptionRequest request) throws IOException {
        t.write(request.encode());
        List<OptionReply> out = new ArrayList<>();
        while (true) {
            OptionReply r = read(t, in, OptionReply::decode);
            out.add(r);
            if (r.type() == OptionReplyType.ACK || r.type().isError()) {
                return out;
            }
        }
    }

    @FunctionalInterface
    interface Decoder<T> {
        T decode(ByteBuffer in) throws NbdProtocolException;
    }

    /** Reads one frame; {@code in} is in write mode between calls and keeps bytes read past it. */
    static <T> T read(Transport t, ByteBuffer in, Decoder<T> d) throws IOException {
        while (true) {
            in.flip();
            T v;
            try {
                v = d.decode(in);
            } finally {
                in.compact();
            }
            if (v != null) {
                return v;
            }
            if (!in.hasRemaining()) {
                throw new IOException("NBD frame larger than the read buffer (" + in.capacity() + " bytes)");
            }
            if (t.read(in) < 0) {
                throw new EOFException("server closed the connection");
            }
        }
    }
}
