package dev.converge.migration.multifd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.PatternWorkload;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.precopy.ConvergencePolicy;
import dev.converge.migration.precopy.IncomingMigration;
import dev.converge.migration.precopy.MigrationException;
import dev.converge.migration.precopy.MigrationResult;
import dev.converge.migration.precopy.PrecopySender;
import dev.converge.migration.precopy.SendOptions;
import dev.converge.migration.precopy.TestControls;
import dev.converge.migration.wire.MultifdCompression;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Real multifd migrations over loopback TCP: a running pattern machine arrives intact with 1, 2
 * and 4 channels and each compression; a channel that fails fails the migration cleanly (the
 * source runs on, the destination discards, no channel thread stays).
 */
@Tag("integration")
class MultifdMigrationTest {
    private static final MachineSpec SPEC = MachineSpec.parse("memory=32M,vcpus=2,workload=pattern,dirty-rate=32M");

    @AfterEach
    void noChannelThreadLeft() {
        await().atMost(TestTimeouts.SHORT).untilAsserted(() -> assertThat(Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().contains("-multifd-")).map(Thread::getName).toList()).isEmpty());
    }

    private static ServerSocketChannel listen() throws IOException {
        return ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    /** The destination: the first connection is the main stream, the channels come through the acceptor. */
    private static CompletableFuture<IncomingMigration.Completed> incoming(ServerSocketChannel server, Machine dest) {
        CompletableFuture<IncomingMigration.Completed> f = new CompletableFuture<>();
        Thread.ofPlatform().name("incoming").daemon().start(() -> {
            try (SocketChannel ch = server.accept()) {
                f.complete(IncomingMigration.run(dest, ch, acceptor(server), s -> { }));
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    /** Accepts the channels on {@code server}; closing it stops listening (and ends an accept in progress). */
    static ChannelAcceptor acceptor(ServerSocketChannel server) {
        return new ChannelAcceptor() {
            @Override
            public ByteChannel accept() throws IOException {
                return server.accept();
            }

            @Override
            public void close() {
                try {
                    server.close();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        };
    }

    private static SendOptions options(boolean verified, MultifdConfig config, ZeroPageDetection zero, ChannelOpener opener) {
        return new SendOptions(verified, zero, config, opener);
    }

    @ParameterizedTest(name = "{0} channel(s), {1}, verified {2}, zero pages {3}")
    @CsvSource({"1, NONE, true, MULTIFD", "2, NONE, false, MULTIFD", "4, NONE, true, LEGACY", "2, ZLIB, true, MULTIFD",
            "2, ZSTD, false, NONE"})
    void runningPatternMachineArrivesIntact(int channels, MultifdCompression compression, boolean verified,
            ZeroPageDetection zero) throws Exception {
        try (Machine src = Machine.create("src", SPEC, RunState.RUNNING);
                Machine dst = Machine.create("dst", SPEC, RunState.INMIGRATE);
                ServerSocketChannel server = listen()) {
            dst.stop();
            PatternWorkload work = (PatternWorkload) src.workload();
            await().atMost(TestTimeouts.SHORT).until(() -> work.progress() > 1000);
            CompletableFuture<IncomingMigration.Completed> in = incoming(server, dst);
            MultifdConfig config = MultifdConfig.DEFAULTS.withChannels(channels).withCompression(compression);
            MigrationResult result;
            try (SocketChannel ch = SocketChannel.open(server.getLocalAddress())) {
                result = new PrecopySender(src, ch, () -> new ConvergencePolicy(Duration.ofMillis(300)),
                        TestControls.autoComplete(3),
                        options(verified, config, zero, i -> SocketChannel.open(server.getLocalAddress()))).run();
            }
            IncomingMigration.Completed done = in.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS);

            assertThat(result.multifdBytes()).as("pages went over the channels").isPositive();
            assertThat(done.passes()).isEqualTo(result.passes());
            assertThat(done.pages()).isEqualTo(result.pagesSent() + result.zeroPages());
            assertThat(dst.ramDigest()).isEqualTo(src.ramDigest());
            PatternWorkload dstWork = (PatternWorkload) dst.workload();
            assertThat(dstWork.progress()).isEqualTo(work.progress());
            assertThat(dstWork.checkInvariant(dst.ram().blocks().get(0))).isEmpty();
            assertThat(src.runState()).isEqualTo(RunState.POSTMIGRATE);
        }
    }

    @Test
    void zeroPagesTravelAsMarkersOnTheChannelsAndCount() throws Exception {
        MachineSpec spec = MachineSpec.parse("memory=16M,vcpus=1,workload=idle");
        try (Machine src = Machine.create("src", spec, RunState.RUNNING);
                Machine dst = Machine.create("dst", spec, RunState.INMIGRATE);
                ServerSocketChannel server = listen()) {
            // Written, then zeroed again: ever written, so sent, and zero, so a marker.
            var block = src.ram().blocks().get(0);
            for (long p = 0; p < 64; p++) {
                block.writeLong(p << 12, 0x5a5a5a5a5a5a5a5aL);
                block.writeLong(p << 12, 0);
            }
            for (long p = 64; p < 96; p++) {
                block.writeLong(p << 12, p);
            }
            CompletableFuture<IncomingMigration.Completed> in = incoming(server, dst);
            MigrationResult result;
            try (SocketChannel ch = SocketChannel.open(server.getLocalAddress())) {
                result = new PrecopySender(src, ch, () -> new ConvergencePolicy(Duration.ofMillis(300)),
                        TestControls.autoComplete(1), options(true, MultifdConfig.DEFAULTS, ZeroPageDetection.MULTIFD,
                                i -> SocketChannel.open(server.getLocalAddress()))).run();
            }
            in.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(result.zeroPages()).isEqualTo(64);
            assertThat(result.pagesSent()).isEqualTo(32);
            assertThat(dst.ramDigest()).isEqualTo(src.ramDigest());
        }
    }

    /** A channel whose writes fail after {@code limit} bytes, as a connection that breaks mid-migration. */
    private static GatheringByteChannel failingAfter(SocketChannel ch, long limit) {
        AtomicLong written = new AtomicLong();
        return new GatheringByteChannel() {
            @Override
            public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
                if (written.get() > limit) {
                    ch.close();
                    throw new IOException("injected channel failure");
                }
                long n = ch.write(srcs, offset, length);
                written.addAndGet(n);
                return n;
            }

            @Override
            public long write(ByteBuffer[] srcs) throws IOException {
                return write(srcs, 0, srcs.length);
            }

            @Override
            public int write(ByteBuffer src) throws IOException {
                return (int) write(new ByteBuffer[] {src});
            }

            @Override
            public boolean isOpen() {
                return ch.isOpen();
            }

            @Override
            public void close() throws IOException {
                ch.close();
            }
        };
    }

    @Test
    void aChannelThatFailsFailsTheMigrationAndTheSourceRunsOn() throws Exception {
        try (Machine src = Machine.create("src", SPEC, RunState.RUNNING);
                Machine dst = Machine.create("dst", SPEC, RunState.INMIGRATE);
                ServerSocketChannel server = listen()) {
            CompletableFuture<IncomingMigration.Completed> in = incoming(server, dst);
            try (SocketChannel ch = SocketChannel.open(server.getLocalAddress())) {
                PrecopySender sender = new PrecopySender(src, ch, () -> new ConvergencePolicy(Duration.ofMillis(300)),
                        TestControls.autoComplete(3), options(false, MultifdConfig.DEFAULTS, ZeroPageDetection.MULTIFD, i -> {
                            SocketChannel c = SocketChannel.open(server.getLocalAddress());
                            return i == 1 ? failingAfter(c, 64 << 10) : c;
                        }));
                assertThatThrownBy(sender::run).isInstanceOf(MigrationException.ChannelFailed.class)
                        .hasMessageContaining("multifd channel 1 to the destination failed: injected channel failure");
            }
            assertThat(src.runState()).isEqualTo(RunState.RUNNING);
            assertThatThrownBy(() -> in.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS))
                    .hasCauseInstanceOf(MigrationException.class);
            assertThat(dst.runState()).isEqualTo(RunState.INMIGRATE);
        }
    }
}
