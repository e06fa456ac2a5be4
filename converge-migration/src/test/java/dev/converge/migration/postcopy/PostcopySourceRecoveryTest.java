package dev.converge.migration.postcopy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.MigrationBitmap;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.precopy.ReturnPath;
import dev.converge.migration.wire.ReturnMessage;
import dev.converge.migration.wire.StreamDecoder;
import dev.converge.migration.wire.StreamEncoder;
import dev.converge.migration.wire.StreamRecord;
import dev.converge.migration.wire.WireFormat;
import dev.converge.migration.wire.WireFormatException;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The source's side of a postcopy recovery with a preempt channel, against a scripted
 * destination on loopback sockets, so that the order of what goes out on each channel can be
 * forced rather than hoped for.
 */
@Tag("integration")
class PostcopySourceRecoveryTest {
    private final List<AutoCloseable> closing = new ArrayList<>();
    private Thread migration;

    @AfterEach
    void close() throws Exception {
        if (migration != null) {
            migration.interrupt(); // a source left paused waits for a recovery that never comes
        }
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
    }

    /**
     * The destination's vCPUs ask for a page on the recovery connection before the source wrote
     * anything on it, and the source's main stream is held (its socket full): the requested page
     * must still come after the new preempt channel's greeting, else the destination's preempt
     * reader refuses the channel and postcopy pauses again with nobody to resume it.
     */
    @Test
    void aPageRequestedBeforeTheRecoveryHeaderGoesOutAfterThePreemptChannelsGreeting() throws Exception {
        Machine machine = Machine.create("src", MachineSpec.parse("memory=16M,vcpus=1,workload=idle"), RunState.RUNNING);
        closing.add(machine);
        machine.stop(); // a postcopy source is stopped
        ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        closing.add(server);
        ScriptedControl control = new ScriptedControl();
        MigrationBitmap all = machine.ram().newMigrationBitmap();
        all.setAll();
        PostcopySource source = new PostcopySource(machine, all, false, control);

        SocketChannel[] main = pair(server);
        SocketChannel[] preempt = pair(server);
        ReturnPath rp = new ReturnPath(main[0]);
        source.start(main[0], rp, preempt[0]);
        Thread.ofVirtual().start(rp);
        CompletableFuture<PostcopySource.Result> result = new CompletableFuture<>();
        migration = Thread.ofPlatform().daemon().name("postcopy-source").start(() -> {
            try {
                result.complete(source.run());
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        });
        control.awaitPhase(PostcopyPhase.ACTIVE);
        main[1].close(); // the connection breaks
        preempt[1].close();
        control.awaitPhase(PostcopyPhase.PAUSED);

        SocketChannel[] main2 = pair(server);
        SocketChannel[] preempt2 = pair(server);
        long page = 5;
        writeFully(main2[1], StreamEncoder.encode(new ReturnMessage.PageRequest(0, page << RamBlock.PAGE_SHIFT)));
        long held = fill(main2[0]);
        control.recoveries.add(new PostcopyControl.Recovery(main2[0], preempt2[0]));

        assertThat(CompletableFuture.supplyAsync(() -> recordNames(preempt2[1], 4))
                .get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS))
                .as("the new preempt channel: its greeting, then the requested page")
                .containsExactly("Header", "RamBlocks", "PostcopyPreempt", "ZeroPage");

        skip(main2[1], held);
        Records in = new Records(main2[1]);
        assertThat(List.of(in.next(), in.next(), in.next())).map(r -> r.getClass().getSimpleName())
                .containsExactly("Header", "RamBlocks", "PostcopyResume");
        List<RamBlock> blocks = machine.ram().blocks();
        for (int b = 0; b < blocks.size(); b++) { // the destination holds every page
            long words = (blocks.get(b).pages() + 63) / 64;
            for (long w = 0; w < words; w += WireFormat.MAX_BITMAP_WORDS) {
                long[] chunk = new long[(int) Math.min(WireFormat.MAX_BITMAP_WORDS, words - w)];
                Arrays.fill(chunk, -1L);
                writeFully(main2[1], StreamEncoder.encode(new ReturnMessage.ReceivedBitmap(b, 64 * w, chunk)));
            }
        }
        writeFully(main2[1], StreamEncoder.encode(new ReturnMessage.ResumeReady()));
        assertThat(in.next()).isInstanceOf(StreamRecord.PostcopyEnd.class);
        writeFully(main2[1], StreamEncoder.encode(new ReturnMessage.PostcopyDone()));

        PostcopySource.Result done = result.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(done.recoveries()).isEqualTo(1);
        assertThat(done.requests()).isEqualTo(1);
    }

    /** A connected loopback pair: {source's end, destination's end}. */
    private SocketChannel[] pair(ServerSocketChannel server) throws IOException {
        SocketChannel out = SocketChannel.open(server.getLocalAddress());
        SocketChannel in = server.accept();
        closing.add(out);
        closing.add(in);
        return new SocketChannel[] {out, in};
    }

    /** Writes into {@code ch} until its socket holds no more, so that the next write blocks; returns the bytes. */
    private static long fill(SocketChannel ch) throws IOException {
        ByteBuffer junk = ByteBuffer.allocate(64 << 10);
        long n = 0;
        ch.configureBlocking(false);
        int w;
        do {
            w = ch.write(junk.clear());
            n += w;
        } while (w > 0);
        ch.configureBlocking(true);
        return n;
    }

    private static void skip(SocketChannel ch, long bytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(64 << 10);
        for (long left = bytes; left > 0;) {
            b.clear().limit((int) Math.min(b.capacity(), left));
            int n = ch.read(b);
            if (n < 0) {
                throw new IOException("ended " + left + " bytes early");
            }
            left -= n;
        }
    }

    private static void writeFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** The names of the first {@code n} records on {@code ch}, or of those before what it cannot decode. */
    private static List<String> recordNames(SocketChannel ch, int n) {
        List<String> names = new ArrayList<>();
        Records in = new Records(ch);
        try {
            while (names.size() < n) {
                names.add(in.next().getClass().getSimpleName());
            }
        } catch (WireFormatException e) {
            names.add("malformed: " + e.getMessage());
        } catch (IOException e) {
            names.add("failed: " + e);
        }
        return names;
    }

    /** The records a destination reads from one channel. */
    private static final class Records {
        private final SocketChannel ch;
        private final StreamDecoder decoder = new StreamDecoder();
        private final ByteBuffer buf = ByteBuffer.allocate(WireFormat.MAX_RECORD_SIZE).flip();

        Records(SocketChannel ch) {
            this.ch = ch;
        }

        StreamRecord next() throws IOException, WireFormatException {
            StreamRecord r;
            while ((r = decoder.decode(buf)) == null) {
                buf.compact();
                int n = ch.read(buf);
                buf.flip();
                if (n < 0) {
                    throw new IOException("the channel ended");
                }
            }
            return r;
        }
    }

    /** The job's side, scripted: phases go to a queue, recoveries come from one. */
    private static final class ScriptedControl implements PostcopyControl {
        final BlockingQueue<PostcopyPhase> phases = new LinkedBlockingQueue<>();
        final BlockingQueue<Recovery> recoveries = new LinkedBlockingQueue<>();

        @Override
        public void phase(PostcopyPhase phase, String why) {
            phases.add(phase);
        }

        @Override
        public void progress(PostcopyProgress progress) {
        }

        @Override
        public long maxPostcopyBandwidth() {
            return 0;
        }

        @Override
        public Recovery awaitRecovery(boolean preempt) throws InterruptedException {
            return recoveries.take();
        }

        void awaitPhase(PostcopyPhase wanted) throws InterruptedException {
            long deadline = System.nanoTime() + TestTimeouts.MEDIUM.toNanos();
            PostcopyPhase p;
            do {
                p = phases.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                assertThat(p).as("phase " + wanted).isNotNull();
            } while (p != wanted);
        }
    }
}
