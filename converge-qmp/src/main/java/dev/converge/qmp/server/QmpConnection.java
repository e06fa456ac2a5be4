package dev.converge.qmp.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.ErrorClass;
import dev.converge.qmp.MainLoop;
import dev.converge.qmp.wire.QmpFramer;
import dev.converge.qmp.wire.QmpJson;
import dev.converge.qmp.wire.QmpMessages;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ByteChannel;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client of a {@link QmpServer}: a reader thread that frames and parses requests and hands
 * each to the main loop, and a writer thread that drains the connection's one ordered outbound
 * queue (greeting, replies, events) to the socket.
 * <p>
 * <b>Ordering.</b> A reply is enqueued by the main-loop task that ran the command, right after
 * the handler returns; an event emitted by that handler was enqueued before it. So a client
 * sees the events a command caused before the command's reply, and replies in request order.
 * An {@link dev.converge.qmp.AsyncCommandHandler asynchronous} command answers later, from the
 * main-loop task that finishes it; until then this client's next requests are held (run in
 * order afterwards), while other clients are served as usual.
 * <p>
 * <b>Back-pressure.</b> The reader hands at most {@link #MAX_IN_FLIGHT} requests to the main
 * loop before the earlier ones are answered (then it stops reading: TCP flow control pushes
 * back on the client). The outbound queue holds at most {@link #MAX_QUEUED_MESSAGES} messages
 * and {@link #MAX_QUEUED_BYTES} bytes; a client that falls further behind is disconnected, so
 * that the main loop and other clients never wait for it.
 * <p>
 * <b>Life.</b> open → (client EOF: pending replies are flushed, then) closed; or
 * open → closed at once on an I/O error, overflow or server close. {@link #close()} is
 * idempotent and may be called from any thread.
 */
final class QmpConnection {
    private static final Logger LOG = LoggerFactory.getLogger(QmpConnection.class);

    /** Requests of one client handed to the main loop and not yet answered (QEMU queues 8). */
    static final int MAX_IN_FLIGHT = 8;
    /** Messages waiting to be written to one client before it counts as too slow. */
    static final int MAX_QUEUED_MESSAGES = 4096;
    /** Bytes waiting to be written to one client before it counts as too slow. */
    static final long MAX_QUEUED_BYTES = 16L << 20;

    private static final int READ_BUFFER_BYTES = 16 * 1024;

    /** One message to write, and what to run once it is written (or dropped). */
    private record Outbound(byte[] bytes, Runnable afterWrite) {
    }

    /** Tells the writer to stop; queued by {@link #close()}. */
    private static final Outbound STOP = new Outbound(new byte[0], null);
    /** Tells the writer to close after everything queued before it (client sent EOF). */
    private static final Outbound END = new Outbound(new byte[0], null);

    private final QmpServer server;
    /** The socket, or TLS over it ({@link TlsByteChannel}). */
    private final ByteChannel channel;
    private final MainLoop mainLoop;
    private final String name;
    private final QmpFramer framer = new QmpFramer();
    private final BlockingQueue<Outbound> outbound = new ArrayBlockingQueue<>(MAX_QUEUED_MESSAGES + 2);
    /** Bytes in {@link #outbound}; updated by enqueuers and the writer. */
    private final AtomicLong queuedBytes = new AtomicLong();
    private final Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Written only on the main loop (by qmp_capabilities); read by event emitters on any thread. */
    private volatile boolean negotiated;
    /** Whether an asynchronous command of this client has not answered yet; main loop only. */
    private boolean commandPending;
    /** This client's requests (and its end of input) waiting for that command; main loop only. */
    private final java.util.ArrayDeque<Runnable> held = new java.util.ArrayDeque<>();
    /** System.nanoTime() when the write in progress began, 0 while the writer does not write; the writer's. */
    private volatile long writingSince;
    /** System.nanoTime() of the accept while a TLS handshake is pending, 0 otherwise; the reader's. */
    private volatile long handshakingSince;
    /** Set once by {@link #start}; read by close and join. */
    private volatile Thread reader;
    private volatile Thread writer;

    /** The dispatcher's view of this connection; used on the main loop only. */
    private final QmpDispatcher.Session session = new QmpDispatcher.Session() {
        @Override
        public boolean negotiated() {
            return negotiated;
        }

        @Override
        public void markNegotiated() {
            negotiated = true;
        }
    };

    QmpConnection(QmpServer server, ByteChannel channel, MainLoop mainLoop, String name) {
        this.server = server;
        this.channel = channel;
        this.mainLoop = mainLoop;
        this.name = name;
    }

    /** Queues the greeting (null: the acceptor wrote it already) and starts the reader and writer. */
    void start(byte[] greeting) {
        if (greeting != null) {
            enqueue(greeting, null);
        }
        writer = Thread.ofVirtual().name(name + "-writer").start(this::writeLoop);
        reader = Thread.ofVirtual().name(name + "-reader").start(this::readLoop);
    }

    boolean negotiated() {
        return negotiated;
    }

    boolean isClosed() {
        return closed.get();
    }

    String name() {
        return name;
    }

    /**
     * Queues one message without blocking; a client too far behind is disconnected instead.
     * {@code afterWrite} runs (on a fresh thread) once the message is written, or dropped
     * because the connection closed.
     */
    void enqueue(byte[] message, Runnable afterWrite) {
        if (closed.get()) {
            runAfter(afterWrite);
            return;
        }
        long bytes = queuedBytes.addAndGet(message.length);
        if (bytes > MAX_QUEUED_BYTES || !outbound.offer(new Outbound(message, afterWrite))) {
            queuedBytes.addAndGet(-message.length);
            LOG.warn("QMP client {} fell too far behind ({} messages, {} bytes queued); disconnecting", name,
                    outbound.size(), bytes);
            runAfter(afterWrite);
            close();
        } else if (closed.get()) {
            // close() ran between our check and our offer: the writer may be gone, so do not strand it.
            dropQueued();
        }
    }

    /** After close: runs the after-write actions of what is queued, keeping the writer's STOP. */
    private void dropQueued() {
        boolean sawStop = false;
        Outbound o;
        while ((o = outbound.poll()) != null) {
            if (o == STOP) {
                sawStop = true;
            } else {
                runAfter(o.afterWrite());
            }
        }
        if (sawStop) {
            outbound.offer(STOP);
        }
    }

    /**
     * The watchdog's check ({@link QmpServer.Timeouts}): a TLS handshake or a write that has not
     * ended in time disconnects this client (closing the channel ends the blocked call).
     */
    void checkProgress(long now, QmpServer.Timeouts t) {
        long h = handshakingSince;
        if (h != 0 && now - h > t.tlsHandshake().toNanos()) {
            LOG.warn("QMP client {}: no TLS handshake within {} ms; disconnecting", name, t.tlsHandshake().toMillis());
            close();
            return;
        }
        long w = writingSince;
        if (w != 0 && now - w > t.write().toNanos()) {
            LOG.warn("QMP client {} has not read what it was sent for {} ms; disconnecting", name, t.write().toMillis());
            close();
        }
    }

    private void readLoop() {
        ByteBuffer buf = ByteBuffer.allocate(READ_BUFFER_BYTES);
        try {
            if (channel instanceof TlsByteChannel tls) {
                handshakingSince = System.nanoTime();
                try {
                    tls.handshake();
                } finally {
                    handshakingSince = 0;
                }
            }
            while (!closed.get()) {
                buf.clear();
                int n = channel.read(buf);
                if (n < 0) {
                    endOfInput();
                    return;
                }
                for (QmpFramer.Frame frame : framer.feed(buf.array(), 0, n)) {
                    submit(frame);
                }
            }
        } catch (ClosedChannelException e) {
            // closed by close(): nothing to report
        } catch (IOException e) {
            LOG.debug("QMP client {} read failed: {}", name, e.toString());
            close();
        } catch (InterruptedException e) {
            close();
        } catch (RejectedExecutionException e) {
            LOG.debug("QMP client {}: main loop is shut down", name);
            close();
        }
    }

    /** Hands one frame to the main loop, waiting while {@link #MAX_IN_FLIGHT} are pending. */
    private void submit(QmpFramer.Frame frame) throws InterruptedException {
        inFlight.acquire();
        try {
            switch (frame) {
                case QmpFramer.Frame.Error err -> mainLoop.execute(() -> answer(() -> CompletableFuture.completedFuture(
                        QmpMessages.error(ErrorClass.GenericError, err.desc(), null))));
                case QmpFramer.Frame.Message msg -> {
                    JsonNode request;
                    try {
                        request = QmpJson.parse(msg.json());
                    } catch (QmpJson.ParseException e) {
                        mainLoop.execute(() -> answer(() -> CompletableFuture.completedFuture(
                                QmpMessages.error(ErrorClass.GenericError, e.getMessage(), null))));
                        return;
                    }
                    mainLoop.execute(() -> answer(() -> server.dispatcher().dispatchAsync(request, session)));
                }
            }
        } catch (RuntimeException e) {
            inFlight.release();
            throw e;
        }
    }

    /**
     * On the main loop: runs one command and queues its reply at once, or, for an asynchronous
     * command, when it ends (see the class comment). Held while an earlier command of this client
     * has not answered.
     */
    private void answer(Supplier<CompletionStage<ObjectNode>> reply) {
        if (commandPending) {
            held.add(() -> answer(reply));
            return;
        }
        if (closed.get()) {
            inFlight.release();
            return;
        }
        CompletableFuture<ObjectNode> message;
        Runnable after;
        server.beginCommand();
        try {
            message = reply.get().toCompletableFuture();
        } catch (RuntimeException e) {
            inFlight.release();
            throw e;
        } finally {
            after = server.endCommand();
        }
        if (message.isDone()) {
            reply(message.join(), after);
            return;
        }
        commandPending = true;
        message.whenComplete((m, e) -> {
            try {
                mainLoop.execute(() -> {
                    commandPending = false;
                    reply(m, after);
                    while (!commandPending && !held.isEmpty()) {
                        held.poll().run();
                    }
                });
            } catch (RejectedExecutionException shutDown) {
                inFlight.release();
                close();
            }
        });
    }

    /** Main loop: queues a finished command's reply (the dispatcher's stage never fails: errors are replies). */
    private void reply(ObjectNode message, Runnable after) {
        try {
            if (closed.get()) {
                runAfter(after);
            } else {
                enqueue(QmpJson.encode(message), after);
            }
        } finally {
            inFlight.release();
        }
    }

    /** The client closed its side: answer what it sent, then close. */
    private void endOfInput() {
        LOG.debug("QMP client {} closed its side", name);
        try {
            // Runs after every request this client already handed to the main loop.
            mainLoop.execute(() -> endAfterReplies());
        } catch (RejectedExecutionException e) {
            close();
        }
    }

    /** Main loop: closes after every reply to what this client sent, also a pending asynchronous one. */
    private void endAfterReplies() {
        if (commandPending) {
            held.add(this::endAfterReplies);
            return;
        }
        if (!closed.get() && !outbound.offer(END)) {
            close();
        }
    }

    private void writeLoop() {
        try {
            while (true) {
                Outbound o = outbound.take();
                if (o == STOP) {
                    return;
                }
                if (o == END) {
                    close();
                    return;
                }
                queuedBytes.addAndGet(-o.bytes().length);
                writingSince = System.nanoTime();
                try {
                    ByteBuffer b = ByteBuffer.wrap(o.bytes());
                    while (b.hasRemaining()) {
                        channel.write(b);
                    }
                } finally {
                    writingSince = 0;
                    runAfter(o.afterWrite());
                }
            }
        } catch (ClosedChannelException e) {
            // closed by close()
        } catch (IOException e) {
            LOG.debug("QMP client {} write failed: {}", name, e.toString());
            close();
        } catch (InterruptedException e) {
            close();
        }
    }

    /** Disconnects now: drops what is queued (running its after-write actions) and stops both threads. */
    void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            channel.close();
        } catch (IOException e) {
            LOG.debug("QMP client {} close failed: {}", name, e.toString());
        }
        Outbound o;
        while ((o = outbound.poll()) != null) {
            runAfter(o.afterWrite());
        }
        queuedBytes.set(0);
        // Enqueuers see closed first, so at most a racing few slip in; make room for STOP.
        while (!outbound.offer(STOP)) {
            Outbound dropped = outbound.poll();
            if (dropped != null) {
                runAfter(dropped.afterWrite());
            }
        }
        server.removed(this);
        LOG.debug("QMP client {} disconnected", name);
    }

    /** Waits for the reader and writer to end. */
    boolean join(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Thread t : new Thread[] {reader, writer}) {
            if (t != null && !t.join(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())))) {
                return false;
            }
        }
        return true;
    }

    private static void runAfter(Runnable afterWrite) {
        if (afterWrite != null) {
            // A fresh thread: the action may close the server, which joins this connection's threads.
            Thread.ofVirtual().name("qmp-after-reply").start(afterWrite);
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
