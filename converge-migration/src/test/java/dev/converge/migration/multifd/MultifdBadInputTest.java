package dev.converge.migration.multifd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.precopy.IncomingMigration;
import dev.converge.migration.precopy.MigrationException;
import dev.converge.migration.wire.MultifdCompression;
import dev.converge.migration.wire.MultifdEncoder;
import dev.converge.migration.wire.MultifdRecord;
import dev.converge.migration.wire.StreamEncoder;
import dev.converge.migration.wire.StreamRecord;
import dev.converge.migration.wire.WireFormat;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A source that misbehaves on its multifd channels (garbage, a wrong channel count or session,
 * a channel id twice, a page outside the layout) fails that incoming migration with a message
 * naming the channel; the destination stays in inmigrate and no channel thread is left.
 */
@Tag("integration")
class MultifdBadInputTest {
    private static final MachineSpec SPEC = MachineSpec.parse("memory=16M,vcpus=1,workload=idle");
    private static final long SESSION = 0x5e5510fL;

    @AfterEach
    void noChannelThreadLeft() {
        await().atMost(TestTimeouts.SHORT).untilAsserted(() -> assertThat(Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().contains("-multifd-")).map(Thread::getName).toList()).isEmpty());
    }

    /** The channels' bytes, one array per channel connection (connected in this order). */
    private static String failureOf(List<byte[]> channels) throws Exception {
        try (Machine dst = Machine.create("dst", SPEC, RunState.INMIGRATE);
                ServerSocketChannel server = ServerSocketChannel.open()
                        .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            CompletableFuture<IncomingMigration.Completed> in = new CompletableFuture<>();
            Thread.ofPlatform().daemon().name("incoming").start(() -> {
                try (SocketChannel ch = server.accept()) {
                    in.complete(IncomingMigration.run(dst, ch, MultifdMigrationTest.acceptor(server), s -> { }));
                } catch (Throwable e) {
                    in.completeExceptionally(e);
                }
            });
            List<SocketChannel> open = new ArrayList<>();
            try (SocketChannel main = SocketChannel.open(server.getLocalAddress())) {
                ByteBuffer b = ByteBuffer.allocate(4096);
                StreamEncoder.putHeader(b, WireFormat.VERSION_CURRENT);
                b.put(StreamEncoder.encode(new StreamRecord.RamBlocks(layoutOf(dst))));
                b.put(StreamEncoder.encode(new StreamRecord.MultifdSetup(2, MultifdCompression.NONE, SESSION)));
                main.write(b.flip());
                for (byte[] c : channels) {
                    SocketChannel ch = SocketChannel.open(server.getLocalAddress());
                    open.add(ch);
                    ch.write(ByteBuffer.wrap(c));
                }
                // The main stream stays open and silent: the channel's failure alone must end the migration.
                ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                        () -> in.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS));
                assertThat(e.getCause()).isInstanceOf(MigrationException.class);
                assertThat(dst.runState()).isEqualTo(RunState.INMIGRATE);
                return e.getCause().getMessage();
            } finally {
                for (SocketChannel ch : open) {
                    ch.close();
                }
            }
        }
    }

    private static List<StreamRecord.BlockInfo> layoutOf(Machine m) {
        List<StreamRecord.BlockInfo> layout = new ArrayList<>();
        for (RamBlock block : m.ram().blocks()) {
            layout.add(new StreamRecord.BlockInfo(block.name(), block.size()));
        }
        return layout;
    }

    private static byte[] hello(int channel, int channels, long session) {
        return bytes(MultifdEncoder.encode(new MultifdRecord.Hello(WireFormat.VERSION_CURRENT, 0, channel, channels, session),
                false));
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.get(a);
        return a;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    @Test
    void garbageOnAChannel() throws Exception {
        assertThat(failureOf(List.of("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes())))
                .contains("multifd channel (connection 0) is malformed: multifd channel magic: 0x20544547");
    }

    @Test
    void aWrongChannelCount() throws Exception {
        assertThat(failureOf(List.of(hello(0, 3, SESSION))))
                .contains("multifd channel (connection 0) is malformed: channel count 3 (expected: 2, as the main stream declared)");
    }

    @Test
    void anotherMigrationsSession() throws Exception {
        assertThat(failureOf(List.of(hello(0, 2, 7)))).contains("session 0x0000000000000007 (expected: 0x0000000005e5510f");
    }

    @Test
    void aChannelIdTwice() throws Exception {
        assertThat(failureOf(List.of(hello(1, 2, SESSION), hello(1, 2, SESSION)))).contains("channel id 1 twice");
    }

    @Test
    void aPageForABlockThatDoesNotExist() throws Exception {
        byte[] pages = bytes(MultifdEncoder.encode(new MultifdRecord.Pages(3, new long[0], new long[] {0},
                MultifdCompression.NONE, ByteBuffer.allocate(0)), false));
        assertThat(failureOf(List.of(concat(hello(0, 2, SESSION), pages))))
                .contains("multifd channel 0 is malformed: block index: 3 (expected: 0..1)");
    }

    @Test
    void aChannelThatEndsBeforeItsSyncPoint() throws Exception {
        // Both channels in, then the main stream ends the pass while one channel is gone: the sync point cannot be met.
        assertThatThrownBy(() -> failureOfClosedChannel()).hasMessageContaining("ended before its sync point of pass 1");
    }

    private static void failureOfClosedChannel() throws Exception {
        try (Machine dst = Machine.create("dst", SPEC, RunState.INMIGRATE);
                ServerSocketChannel server = ServerSocketChannel.open()
                        .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            CompletableFuture<IncomingMigration.Completed> in = new CompletableFuture<>();
            Thread.ofPlatform().daemon().name("incoming").start(() -> {
                try (SocketChannel ch = server.accept()) {
                    in.complete(IncomingMigration.run(dst, ch, MultifdMigrationTest.acceptor(server), s -> { }));
                } catch (Throwable e) {
                    in.completeExceptionally(e);
                }
            });
            try (SocketChannel main = SocketChannel.open(server.getLocalAddress());
                    SocketChannel c0 = SocketChannel.open(server.getLocalAddress());
                    SocketChannel c1 = SocketChannel.open(server.getLocalAddress())) {
                ByteBuffer b = ByteBuffer.allocate(4096);
                StreamEncoder.putHeader(b, WireFormat.VERSION_CURRENT);
                b.put(StreamEncoder.encode(new StreamRecord.RamBlocks(layoutOf(dst))));
                b.put(StreamEncoder.encode(new StreamRecord.MultifdSetup(2, MultifdCompression.NONE, SESSION)));
                main.write(b.flip());
                c0.write(ByteBuffer.wrap(concat(hello(0, 2, SESSION), bytes(MultifdEncoder.encode(new MultifdRecord.Sync(1),
                        false)))));
                c1.write(ByteBuffer.wrap(hello(1, 2, SESSION)));
                c1.close();
                main.write(StreamEncoder.encode(new StreamRecord.EndOfPass(1)));
                try {
                    in.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException e) {
                    assertThat(dst.runState()).isEqualTo(RunState.INMIGRATE);
                    throw (Exception) e.getCause();
                }
            }
        }
    }
}
