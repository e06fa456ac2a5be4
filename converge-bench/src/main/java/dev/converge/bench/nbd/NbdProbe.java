package dev.converge.bench.nbd;

import dev.converge.nbd.server.NbdExport;
import dev.converge.nbd.server.NbdExportBackend;
import dev.converge.nbd.server.NbdServer;
import dev.converge.nbd.server.NbdServerConfig;
import dev.converge.nbd.wire.ClientFlags;
import dev.converge.nbd.wire.Extent;
import dev.converge.nbd.wire.NbdIoException;
import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.nbd.wire.NbdProtocol.ClientFlag;
import dev.converge.nbd.wire.NbdProtocol.InfoType;
import dev.converge.nbd.wire.NbdProtocol.OptionReplyType;
import dev.converge.nbd.wire.OptionReply;
import dev.converge.nbd.wire.OptionRequest;
import dev.converge.nbd.wire.Request;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The NBD resource probes of issue 14, run against our server in this JVM (TCP loopback), printing
 * threads and resident memory: idle handshakes, clients that never read replies, max-connections
 * against idle sockets, and a burst of connects. Uses only the server's long-standing API, so the same
 * class measures an older server jar too.
 * <p>
 * Usage: {@code NbdProbe [idle-count (default 2000)] [hogs (default 12)]}
 */
public final class NbdProbe {
    private static final int BIG = NbdProtocol.MAX_BUFFER_SIZE;

    private NbdProbe() {
    }

    /** Reads as a pattern, never allocates: the server's memory is what the probe sees. */
    private static final class Zeroes implements NbdExportBackend {
        @Override
        public long size() {
            return 1L << 30;
        }

        @Override
        public void read(long offset, ByteBuffer dst) {
            while (dst.hasRemaining()) {
                dst.put((byte) 1);
            }
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) {
            src.position(src.limit());
        }

        @Override
        public void writeZeroes(long offset, long length, boolean mayTrim, boolean fastZero) {
        }

        @Override
        public void trim(long offset, long length) {
        }

        @Override
        public void flush() {
        }

        @Override
        public List<Extent> blockStatus(long offset, long length) throws NbdIoException {
            return List.of(Extent.data(Math.min(length, Extent.MAX_LENGTH)));
        }
    }

    public static void main(String[] args) throws Exception {
        int idle = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        int hogs = args.length > 1 ? Integer.parseInt(args[1]) : 12;
        System.out.println("start: " + stats());
        try (NbdServer s = NbdServer.start(NbdServerConfig.tcp("127.0.0.1", 0).withMaxConnections(100000))) {
            s.addExport(new NbdExport("disk", "", true, new Zeroes(), List.of(), true));
            InetSocketAddress at = new InetSocketAddress("127.0.0.1", s.port());
            idleHandshakes(s, at, idle);
            hogs(s, at, hogs);
            burst(s, at, 200);
        }
        try (NbdServer s = NbdServer.start(NbdServerConfig.tcp("127.0.0.1", 0).withMaxConnections(10))) {
            s.addExport(new NbdExport("disk", "", true, new Zeroes(), List.of(), true));
            maxConnections(new InetSocketAddress("127.0.0.1", s.port()));
        }
    }

    private static void idleHandshakes(NbdServer s, InetSocketAddress at, int n) throws Exception {
        List<SocketChannel> idle = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            idle.add(SocketChannel.open(at));
        }
        long t0 = System.nanoTime();
        waitUntil(() -> s.connectionCount() >= n, 30);
        System.out.printf("idle handshakes: %d connected: %s%n", n, stats());
        boolean dropped = waitUntil(() -> s.connectionCount() == 0, 20);
        System.out.printf("idle handshakes: after %.1f s: %d still connected (%s): %s%n",
                (System.nanoTime() - t0) / 1e9, s.connectionCount(), dropped ? "dropped" : "kept", stats());
        for (SocketChannel c : idle) {
            c.close();
        }
        waitUntil(() -> s.connectionCount() == 0, 30);
    }

    private static void hogs(NbdServer s, InetSocketAddress at, int n) throws Exception {
        List<SocketChannel> hogs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            SocketChannel c = SocketChannel.open(at);
            ByteBuffer in = ByteBuffer.allocate(64 << 10);
            handshake(c, in);
            ByteBuffer burst = ByteBuffer.allocate(24 * NbdProtocol.REQUEST_HEADER_SIZE);
            for (int k = 0; k < 24; k++) {
                burst.put(Request.read(k, 0, BIG).encode());
            }
            write(c, burst.flip());
            hogs.add(c);
        }
        waitUntil(() -> false, 3); // let the server take what it will
        System.out.printf("hogs: %d clients x 24 reads of 32 MiB, replies never read: %s%n", n, stats());
        try (SocketChannel normal = SocketChannel.open(at)) {
            ByteBuffer in = ByteBuffer.allocate(BIG + 4096);
            handshake(normal, in);
            long t0 = System.nanoTime();
            write(normal, Request.read(1, 0, BIG).encode());
            ByteBuffer reply = ByteBuffer.allocate(16 + BIG);
            Future<Integer> read = Executors.newVirtualThreadPerTaskExecutor().submit(() -> {
                while (reply.hasRemaining()) {
                    if (normal.read(reply) < 0) {
                        return -1;
                    }
                }
                return reply.getInt(4);
            });
            Integer errno;
            try {
                errno = read.get(30, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                errno = null;
            }
            System.out.printf("hogs: a normal client's 32 MiB read: %s after %.2f s%n",
                    errno == null ? "no reply" : errno == 0 ? "served" : "error " + errno,
                    (System.nanoTime() - t0) / 1e9);
        }
        for (SocketChannel c : hogs) {
            c.close();
        }
        long t0 = System.nanoTime();
        waitUntil(() -> s.connectionCount() == 0, 30);
        waitUntil(() -> false, 5);
        System.out.printf("hogs: %.1f s after they closed: %s%n", (System.nanoTime() - t0) / 1e9, stats());
    }

    private static void maxConnections(InetSocketAddress at) throws Exception {
        List<SocketChannel> idle = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            idle.add(SocketChannel.open(at));
        }
        waitUntil(() -> false, 1);
        long t0 = System.nanoTime();
        String outcome;
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            Future<String> real = pool.submit(() -> {
                try (SocketChannel c = SocketChannel.open(at)) {
                    handshake(c, ByteBuffer.allocate(64 << 10));
                    return "served";
                } catch (IOException e) {
                    return "refused (" + e.getMessage() + ")";
                }
            });
            try {
                outcome = real.get(30, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                outcome = "not served";
                real.cancel(true);
            }
        }
        System.out.printf("max-connections 10 + 10 idle sockets: a real client %s after %.1f s%n", outcome,
                (System.nanoTime() - t0) / 1e9);
        for (SocketChannel c : idle) {
            c.close();
        }
    }

    private static void burst(NbdServer s, InetSocketAddress at, int n) throws Exception {
        List<Future<Boolean>> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < n; i++) {
                results.add(pool.submit(() -> {
                    try (SocketChannel c = SocketChannel.open(at)) {
                        handshake(c, ByteBuffer.allocate(64 << 10));
                        return true;
                    }
                }));
            }
            int served = 0;
            for (Future<Boolean> f : results) {
                try {
                    if (f.get(20, TimeUnit.SECONDS)) {
                        served++;
                    }
                } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
                    f.cancel(true);
                }
            }
            System.out.printf("burst: %d simultaneous connects, %d served within 20 s%n", n, served);
        }
    }

    /** Greeting, flags, GO; fails unless the server says ACK. */
    private static void handshake(SocketChannel c, ByteBuffer in) throws IOException {
        read(c, in, 18);
        write(c, new ClientFlags(EnumSet.of(ClientFlag.FIXED_NEWSTYLE, ClientFlag.NO_ZEROES)).encode());
        write(c, OptionRequest.go("disk", List.of(InfoType.BLOCK_SIZE)).encode());
        in.clear();
        while (true) {
            in.flip();
            OptionReply r;
            try {
                r = OptionReply.decode(in);
            } catch (dev.converge.nbd.wire.NbdProtocolException e) {
                throw new IOException(e);
            } finally {
                in.compact();
            }
            if (r == null) {
                if (c.read(in) < 0) {
                    throw new EOFException("closed during the handshake");
                }
                continue;
            }
            if (r.type() == OptionReplyType.ACK) {
                return;
            }
            if (r.type().isError()) {
                throw new IOException("GO failed: " + r.type());
            }
        }
    }

    private static void read(SocketChannel c, ByteBuffer in, int n) throws IOException {
        in.clear().limit(n);
        while (in.hasRemaining()) {
            if (c.read(in) < 0) {
                throw new EOFException("closed");
            }
        }
    }

    private static void write(SocketChannel c, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            c.write(b);
        }
    }

    private interface Check {
        boolean ok() throws Exception;
    }

    private static boolean waitUntil(Check check, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            if (check.ok()) {
                return true;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
        return check.ok();
    }

    /** Platform threads, resident memory and direct memory in use, as the probe reports them. */
    private static String stats() throws IOException {
        long rssKb = 0;
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                rssKb = Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        long direct = java.lang.management.ManagementFactory
                .getPlatformMXBeans(java.lang.management.BufferPoolMXBean.class).stream()
                .filter(b -> b.getName().equals("direct")).mapToLong(java.lang.management.BufferPoolMXBean::getMemoryUsed)
                .sum();
        return String.format("%d threads, RSS %d MB, direct buffers %d MB", java.lang.management.ManagementFactory.getThreadMXBean().getThreadCount(), rssKb / 1024,
                direct >> 20);
    }
}
