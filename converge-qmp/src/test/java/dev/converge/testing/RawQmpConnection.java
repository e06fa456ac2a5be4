package dev.converge.testing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.wire.QmpFramer;
import dev.converge.qmp.wire.QmpJson;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A bare QMP connection for protocol tests: sends raw bytes and reads whole messages, with no
 * negotiation or id matching. Lets a test send garbage, half messages or oversized input, and
 * see exactly what the server answers.
 */
public final class RawQmpConnection implements AutoCloseable {
    private final SocketChannel channel;
    private final BlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
    private final CountDownLatch ended = new CountDownLatch(1);
    private final Thread reader;

    private RawQmpConnection(SocketChannel channel) {
        this.channel = channel;
        this.reader = Thread.ofVirtual().name("raw-qmp-reader").start(this::readLoop);
    }

    /** Connects (the greeting is the first message {@link #read} returns). */
    public static RawQmpConnection connect(SocketAddress address) throws IOException {
        return new RawQmpConnection(SocketChannel.open(address.resolve()));
    }

    /** Connects, reads the greeting and negotiates capabilities. */
    public static RawQmpConnection connectNegotiated(SocketAddress address) throws IOException {
        RawQmpConnection c = connect(address);
        JsonNode greeting = c.read();
        if (!greeting.has("QMP")) {
            throw new AssertionError("expected a greeting, got " + greeting);
        }
        c.send("{\"execute\": \"qmp_capabilities\"}\n");
        JsonNode r = c.read();
        if (!r.has("return")) {
            throw new AssertionError("negotiation failed: " + r);
        }
        return c;
    }

    public void send(String text) {
        send(text.getBytes(StandardCharsets.UTF_8));
    }

    public void send(byte[] bytes) {
        try {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                channel.write(b);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The next message, waiting at most {@link TestTimeouts#SHORT}. */
    public JsonNode read() {
        return read(TestTimeouts.SHORT);
    }

    /** The next message, waiting at most {@code timeout}. */
    public JsonNode read(Duration timeout) {
        try {
            JsonNode m = received.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
            if (m == null) {
                throw new AssertionError("no QMP message within " + timeout);
            }
            return m;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Sends one line and returns the next message. */
    public JsonNode roundTrip(String line) {
        send(line.endsWith("\n") ? line : line + "\n");
        return read();
    }

    /** Whether the server closed the connection within {@code timeout}. */
    public boolean awaitClosedByServer(Duration timeout) throws InterruptedException {
        return ended.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Closes only the sending side (as socat does at the end of its input). */
    public void shutdownOutput() throws IOException {
        channel.shutdownOutput();
    }

    private void readLoop() {
        QmpFramer framer = new QmpFramer();
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        try {
            while (true) {
                buf.clear();
                int n = channel.read(buf);
                if (n < 0) {
                    return;
                }
                for (QmpFramer.Frame f : framer.feed(buf.array(), 0, n)) {
                    if (f instanceof QmpFramer.Frame.Message m) {
                        received.add(QmpJson.parse(m.json()));
                    } else {
                        throw new AssertionError("server sent unframeable bytes: " + f);
                    }
                }
            }
        } catch (IOException e) {
            // connection ended
        } catch (QmpJson.ParseException e) {
            throw new AssertionError("server sent bad JSON", e);
        } finally {
            ended.countDown();
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
        try {
            reader.join(TestTimeouts.SHORT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
