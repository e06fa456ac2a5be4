package dev.converge.qmp.tls;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSession;

/**
 * TLS over a blocking socket channel with an {@link SSLEngine} (works for TCP and UNIX sockets alike,
 * where SSLSocket layering needs a TCP socket). SSLEngine allows one wrap and one unwrap to run at the
 * same time, which is exactly our reader thread and our serialised writers.
 */
public final class TlsTransport implements Transport {
    private final SocketChannel channel;
    private final SSLEngine engine;
    private final String peer;
    /** Guards {@link #netOut} and every {@code engine.wrap}. */
    private final ReentrantLock writeLock = new ReentrantLock();
    /** Ciphertext read from the socket, in write mode; touched only by the reading thread. */
    private ByteBuffer netIn;
    /** Plaintext unwrapped but not yet handed out, in read mode; touched only by the reading thread. */
    private ByteBuffer appIn;
    /** Ciphertext to send; guarded by {@link #writeLock}. */
    private ByteBuffer netOut;

    /**
     * @param leftover bytes the plain transport already read past the STARTTLS reply (read mode)
     */
    public TlsTransport(SocketChannel channel, SSLEngine engine, ByteBuffer leftover, String peer) {
        this.channel = channel;
        this.engine = engine;
        this.peer = peer;
        SSLSession s = engine.getSession();
        netIn = ByteBuffer.allocate(Math.max(s.getPacketBufferSize(), leftover.remaining()));
        netIn.put(leftover);
        appIn = ByteBuffer.allocate(s.getApplicationBufferSize()).flip();
        netOut = ByteBuffer.allocate(s.getPacketBufferSize());
    }

    /** Runs the TLS handshake to completion on the calling thread. */
    public void handshake() throws IOException {
        engine.beginHandshake();
        while (true) {
            switch (engine.getHandshakeStatus()) {
                case NEED_TASK -> runTasks();
                case NEED_WRAP -> wrap(new ByteBuffer[] {ByteBuffer.allocate(0)});
                case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
                    if (!unwrapOnce()) {
                        throw new EOFException("peer closed the connection during the TLS handshake");
                    }
                }
                case FINISHED, NOT_HANDSHAKING -> {
                    return;
                }
            }
        }
    }

    public SSLSession session() {
        return engine.getSession();
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        while (!appIn.hasRemaining()) {
            if (!unwrapOnce()) {
                return -1;
            }
        }
        int n = Math.min(dst.remaining(), appIn.remaining());
        dst.put(dst.position(), appIn, appIn.position(), n);
        dst.position(dst.position() + n);
        appIn.position(appIn.position() + n);
        return n;
    }

    /** Unwraps one record (reading from the socket as needed); false at end of stream or close_notify. */
    private boolean unwrapOnce() throws IOException {
        while (true) {
            netIn.flip();
            appIn.compact();
            SSLEngineResult r;
            try {
                r = engine.unwrap(netIn, appIn);
            } finally {
                netIn.compact();
                appIn.flip();
            }
            switch (r.getStatus()) {
                case OK -> {
                    afterUnwrap(r);
                    return true;
                }
                case CLOSED -> {
                    return false;
                }
                case BUFFER_OVERFLOW -> appIn = grow(appIn, engine.getSession().getApplicationBufferSize(), true);
                case BUFFER_UNDERFLOW -> {
                    if (netIn.position() == netIn.capacity()) {
                        netIn = grow(netIn, engine.getSession().getPacketBufferSize(), false);
                    }
                    if (channel.read(netIn) < 0) {
                        return false;
                    }
                }
            }
        }
    }

    private void afterUnwrap(SSLEngineResult r) throws IOException {
        SSLEngineResult.HandshakeStatus hs = r.getHandshakeStatus();
        if (hs == SSLEngineResult.HandshakeStatus.NEED_TASK) {
            runTasks();
            hs = engine.getHandshakeStatus();
        }
        if (hs == SSLEngineResult.HandshakeStatus.NEED_WRAP) {
            // post-handshake messages (key update, session tickets) need an answer from the reader
            wrap(new ByteBuffer[] {ByteBuffer.allocate(0)});
        }
    }

    private static ByteBuffer grow(ByteBuffer b, int hint, boolean readMode) {
        ByteBuffer bigger = ByteBuffer.allocate(Math.max(b.capacity() * 2, hint));
        if (readMode) {
            bigger.put(b).flip();
        } else {
            b.flip();
            bigger.put(b);
        }
        return bigger;
    }

    private void runTasks() {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }

    @Override
    public void write(ByteBuffer... srcs) throws IOException {
        wrap(srcs);
    }

    private void wrap(ByteBuffer[] srcs) throws IOException {
        writeLock.lock();
        try {
            boolean first = true;
            while (first || hasRemaining(srcs)) {
                first = false;
                netOut.clear();
                SSLEngineResult r = engine.wrap(srcs, netOut);
                switch (r.getStatus()) {
                    case OK -> {
                        netOut.flip();
                        while (netOut.hasRemaining()) {
                            channel.write(netOut);
                        }
                        if (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_TASK) {
                            runTasks();
                        }
                    }
                    case BUFFER_OVERFLOW -> {
                        netOut = ByteBuffer.allocate(Math.max(netOut.capacity() * 2,
                                engine.getSession().getPacketBufferSize()));
                        first = true;
                    }
                    case CLOSED -> throw new SSLException("TLS session closed");
                    case BUFFER_UNDERFLOW -> throw new IllegalStateException("wrap cannot underflow");
                }
            }
        } finally {
            writeLock.unlock();
        }
    }

    private static boolean hasRemaining(ByteBuffer[] srcs) {
        for (ByteBuffer b : srcs) {
            if (b.hasRemaining()) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean secure() {
        return true;
    }

    @Override
    public String peer() {
        return peer;
    }

    /**
     * Sends close_notify after everything written: the peer reads the end of this side's
     * stream; reading goes on (a half-close).
     */
    public void shutdownOutput() throws IOException {
        writeLock.lock();
        try {
            engine.closeOutbound();
            flushClose();
        } finally {
            writeLock.unlock();
        }
    }

    /** Wraps and writes close_notify; under writeLock, after closeOutbound. */
    private void flushClose() throws IOException {
        do {
            netOut.clear();
            SSLEngineResult r = engine.wrap(ByteBuffer.allocate(0), netOut);
            netOut.flip();
            while (netOut.hasRemaining()) {
                channel.write(netOut);
            }
            if (r.bytesProduced() == 0) {
                return;
            }
        } while (!engine.isOutboundDone());
    }

    /** How long {@link #close} may spend on close_notify before it closes the socket anyway. */
    private static final long CLOSE_NOTIFY_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(1);

    @Override
    public void close() throws IOException {
        // close_notify is a courtesy: a peer that vanished or stopped reading (its buffers full)
        // must not delay the close, so a watchdog closes the socket if the write blocks.
        if (writeLock.tryLock()) {
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.CompletableFuture.delayedExecutor(CLOSE_NOTIFY_NANOS,
                    java.util.concurrent.TimeUnit.NANOSECONDS).execute(() -> {
                        if (done.compareAndSet(false, true)) {
                            try {
                                channel.close();
                            } catch (IOException e) {
                                // closing is all the watchdog does
                            }
                        }
                    });
            try {
                if (channel.isOpen() && !engine.isOutboundDone()) {
                    engine.closeOutbound();
                    flushClose();
                }
            } catch (IOException ignored) {
                // the channel is closed below either way
            } finally {
                done.set(true);
                writeLock.unlock();
            }
        }
        channel.close();
    }
}
