package dev.converge.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A TCP proxy on loopback that breaks the network between two peers on demand, for fault
 * injection where no network namespace (tc netem) is available: it tampers with the bytes
 * going upstream (client to target), delays every chunk, partitions (holds all traffic without
 * closing, as a cable pulled out), or drops every connection with a reset.
 * <p>
 * Each accepted connection gets its own connection to the target and two pumps (virtual
 * threads), one per direction. A delay keeps the throughput (chunks queue with their due time)
 * and adds latency, as netem's delay does.
 */
public final class FaultProxy implements AutoCloseable {
    /** Changes bytes in flight: {@code chunk}'s remaining bytes start at {@code offset} of the upstream stream. */
    public interface Tamper {
        void apply(ByteBuffer chunk, long offset);
    }

    private static final int CHUNK = 64 << 10;
    private static final byte[] END = new byte[0];

    private final ServerSocketChannel server;
    private final InetSocketAddress target;
    private final List<SocketChannel> open = new CopyOnWriteArrayList<>();
    private final AtomicLong accepted = new AtomicLong();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition healed = lock.newCondition();
    /** Guarded by lock. */
    private boolean partitioned;
    private volatile Tamper upstream = (chunk, offset) -> { };
    private volatile long delayNanos;
    private volatile boolean closed;
    /** Longest wait of a failed upstream write for the downstream direction to relay what is left. */
    private static final long DRAIN_WAIT_SECONDS = 5;

    private FaultProxy(InetSocketAddress target) throws IOException {
        this.target = Objects.requireNonNull(target);
        this.server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        Thread.ofVirtual().name("fault-proxy-accept").start(this::acceptLoop);
    }

    /** A proxy on an ephemeral loopback port that forwards to {@code target}. */
    public static FaultProxy to(InetSocketAddress target) throws IOException {
        return new FaultProxy(target);
    }

    /** Where clients connect. */
    public InetSocketAddress address() {
        try {
            return (InetSocketAddress) server.getLocalAddress();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** "tcp:HOST:PORT" of {@link #address()}. */
    public String uri() {
        return "tcp:" + address().getAddress().getHostAddress() + ":" + address().getPort();
    }

    /** Connections accepted so far. */
    public long accepted() {
        return accepted.get();
    }

    /** Tampers with the upstream bytes of every connection from now on. */
    public void tamperUpstream(Tamper t) {
        upstream = Objects.requireNonNull(t);
    }

    /** Delays every chunk by {@code d} in both directions (zero: none). */
    public void delay(Duration d) {
        delayNanos = d.toNanos();
    }

    /** Holds all traffic in both directions, connections stay open, until {@link #heal()}. */
    public void partition() {
        lock.lock();
        try {
            partitioned = true;
        } finally {
            lock.unlock();
        }
    }

    /** Ends a {@link #partition()}: what was held flows on. */
    public void heal() {
        lock.lock();
        try {
            partitioned = false;
            healed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Resets every open connection (SO_LINGER 0: the peers see ECONNRESET, not an orderly end). */
    public void drop() {
        for (SocketChannel c : open) {
            reset(c);
        }
    }

    @Override
    public void close() {
        closed = true;
        heal();
        try {
            server.close();
        } catch (IOException e) {
            // closing anyway
        }
        drop();
    }

    private static void reset(SocketChannel c) {
        try {
            c.setOption(StandardSocketOptions.SO_LINGER, 0);
        } catch (IOException | RuntimeException e) {
            // already closed
        }
        try {
            c.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            accepted.incrementAndGet();
            SocketChannel upstreamChannel;
            try {
                upstreamChannel = SocketChannel.open(target);
            } catch (IOException e) {
                reset(client);
                continue;
            }
            open.add(client);
            open.add(upstreamChannel);
            CountDownLatch downstreamDone = new CountDownLatch(1);
            pump(client, upstreamChannel, true, downstreamDone);
            pump(upstreamChannel, client, false, downstreamDone);
        }
    }

    /**
     * One direction: a reader that queues chunks with their due time and a writer that sends them
     * when due. {@code downstreamDone} is counted down when the downstream direction has relayed
     * all it will: a failed upstream write (the target closed) waits for it (bounded) before it
     * resets the client, so that what the target said last (an error message) still reaches the
     * client, as it would without the proxy.
     */
    private void pump(SocketChannel from, SocketChannel to, boolean isUpstream, CountDownLatch downstreamDone) {
        BlockingQueue<Chunk> queue = new LinkedBlockingQueue<>(256);
        Thread.ofVirtual().name("fault-proxy-read").start(() -> {
            ByteBuffer buf = ByteBuffer.allocate(CHUNK);
            long offset = 0;
            try {
                while (true) {
                    buf.clear();
                    int n = from.read(buf);
                    if (n < 0) {
                        break;
                    }
                    buf.flip();
                    if (isUpstream) {
                        upstream.apply(buf.duplicate(), offset);
                    }
                    offset += n;
                    byte[] copy = new byte[n];
                    buf.get(copy);
                    queue.put(new Chunk(copy, System.nanoTime() + delayNanos));
                }
            } catch (IOException | InterruptedException e) {
                // the connection ended
            }
            try {
                queue.put(new Chunk(END, 0));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Thread.ofVirtual().name("fault-proxy-write").start(() -> {
            try {
                while (true) {
                    Chunk c = queue.take();
                    long wait;
                    while ((wait = c.due - System.nanoTime()) > 0) {
                        LockSupport.parkNanos(wait); // the injected latency itself, not a wait for a condition
                    }
                    awaitHealed();
                    if (c.data == END) {
                        to.shutdownOutput();
                        if (!isUpstream) {
                            downstreamDone.countDown();
                        }
                        return;
                    }
                    ByteBuffer b = ByteBuffer.wrap(c.data);
                    while (b.hasRemaining()) {
                        to.write(b);
                    }
                }
            } catch (IOException | InterruptedException e) {
                if (isUpstream) {
                    try {
                        downstreamDone.await(DRAIN_WAIT_SECONDS, TimeUnit.SECONDS);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                    }
                } else {
                    downstreamDone.countDown();
                }
                reset(from);
                reset(to);
            }
        });
    }

    private void awaitHealed() throws InterruptedException {
        lock.lock();
        try {
            while (partitioned) {
                healed.await();
            }
        } finally {
            lock.unlock();
        }
    }

    private record Chunk(byte[] data, long due) {
    }

    /** For callers that hold a {@link SocketAddress}. */
    public static FaultProxy to(SocketAddress target) throws IOException {
        return to((InetSocketAddress) target);
    }
}
