package dev.converge.nbd.server;

import dev.converge.nbd.wire.ClientFlags;
import dev.converge.nbd.wire.NbdProtocol.ClientFlag;
import dev.converge.nbd.wire.NbdProtocol.InfoType;
import dev.converge.nbd.wire.NbdProtocol.OptionReplyType;
import dev.converge.nbd.wire.NbdProtocolException;
import dev.converge.nbd.wire.OptionReply;
import dev.converge.nbd.wire.OptionRequest;
import dev.converge.nbd.wire.Reply;
import dev.converge.nbd.wire.ReplyDecoder;
import dev.converge.nbd.wire.Request;
import dev.converge.nbd.wire.ServerGreeting;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A minimal NBD client built from the wire codec, for driving the server byte by byte in tests. */
final class TestClient implements AutoCloseable {
    final SocketChannel channel;
    private final ByteBuffer in;
    /** Cookie → READ length, so simple replies can be framed. */
    final Map<Long, Long> readLengths = new ConcurrentHashMap<>();
    private final ReplyDecoder replies = new ReplyDecoder(c -> readLengths.getOrDefault(c, 0L));
    long size;
    int transmissionFlags;

    private TestClient(SocketChannel channel, int bufferSize) {
        this.channel = channel;
        this.in = ByteBuffer.allocate(bufferSize);
    }

    /** A client that can read replies of the largest READ. */
    static TestClient connect(SocketAddress address) throws IOException {
        return connect(address, 40 << 20);
    }

    /** A client with a read buffer of {@code bufferSize} bytes (many clients at once fit the heap). */
    static TestClient connect(SocketAddress address, int bufferSize) throws IOException {
        SocketChannel ch = address instanceof UnixDomainSocketAddress
                ? SocketChannel.open(StandardProtocolFamily.UNIX) : SocketChannel.open();
        ch.connect(address);
        return new TestClient(ch, bufferSize);
    }

    /** Greeting and fixed-newstyle flags with NO_ZEROES. */
    ServerGreeting start() throws IOException {
        ServerGreeting g = read(ServerGreeting::decode);
        write(new ClientFlags(EnumSet.of(ClientFlag.FIXED_NEWSTYLE, ClientFlag.NO_ZEROES)).encode());
        return g;
    }

    /** Full handshake: optional structured replies and contexts, then GO. */
    TestClient open(String export, boolean structured, List<String> contexts) throws IOException {
        start();
        if (structured) {
            expectAck(option(OptionRequest.structuredReply()));
        }
        if (!contexts.isEmpty()) {
            expectAck(option(OptionRequest.setMetaContext(export, contexts)));
        }
        List<OptionReply> go = option(OptionRequest.go(export, List.of(InfoType.BLOCK_SIZE)));
        expectAck(go);
        for (OptionReply r : go) {
            ByteBuffer p = r.payload();
            if (r.type() == OptionReplyType.INFO && p.getShort(0) == 0) {
                size = p.getLong(2);
                transmissionFlags = p.getShort(10) & 0xffff;
            }
        }
        return this;
    }

    static void expectAck(List<OptionReply> replies) {
        OptionReply last = replies.getLast();
        if (last.type() != OptionReplyType.ACK) {
            throw new AssertionError("expected ACK, got " + last + ": " + last.message());
        }
    }

    /** Sends an option and reads replies up to the ACK or an error. */
    List<OptionReply> option(OptionRequest request) throws IOException {
        write(request.encode());
        List<OptionReply> out = new ArrayList<>();
        while (true) {
            OptionReply r = read(OptionReply::decode);
            out.add(r);
            if (r.type() == OptionReplyType.ACK || r.type().isError()) {
                return out;
            }
        }
    }

    void send(Request r) throws IOException {
        if (r.type() == 0) {
            readLengths.put(r.cookie(), r.length());
        }
        write(r.encode());
    }

    Reply reply() throws IOException {
        return read(replies::decode);
    }

    void write(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    @FunctionalInterface
    interface Decoder<T> {
        T decode(ByteBuffer in) throws NbdProtocolException;
    }

    <T> T read(Decoder<T> d) throws IOException {
        while (true) {
            in.flip();
            T t;
            try {
                t = d.decode(in);
            } finally {
                in.compact();
            }
            if (t != null) {
                return t;
            }
            if (channel.read(in) < 0) {
                throw new EOFException("server closed the connection");
            }
        }
    }

    /** True when the server closes the connection before sending anything more. */
    boolean closedByServer() throws IOException {
        try {
            return channel.read(ByteBuffer.allocate(1)) < 0;
        } catch (IOException e) {
            return true; // connection reset
        }
    }

    /** Reads and drops whatever the server still sends until it closes the connection (true), blocking until then. */
    boolean closedByServerAfterAnyBytes() {
        ByteBuffer sink = ByteBuffer.allocate(64 << 10);
        try {
            while (channel.read(sink.clear()) >= 0) {
                // a cut reply's bytes
            }
        } catch (IOException e) {
            // connection reset: closed too
        }
        return true;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
