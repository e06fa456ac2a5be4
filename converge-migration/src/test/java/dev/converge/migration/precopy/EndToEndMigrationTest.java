package dev.converge.migration.precopy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.PatternWorkload;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.wire.StreamDecoder;
import dev.converge.migration.wire.WireFormat;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Real migrations over loopback sockets, TCP and UNIX. */
@Tag("integration")
class EndToEndMigrationTest {
    enum Transport { TCP, UNIX }

    @TempDir
    Path dir;

    private ServerSocketChannel listen(Transport t) throws IOException {
        return switch (t) {
            case TCP -> ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            case UNIX -> ServerSocketChannel.open(StandardProtocolFamily.UNIX)
                    .bind(UnixDomainSocketAddress.of(dir.resolve("migrate.sock")));
        };
    }

    /** Runs the incoming side on its own thread; the future completes when it ends. */
    private static CompletableFuture<IncomingMigration.Completed> incoming(ServerSocketChannel server, Machine dest) {
        CompletableFuture<IncomingMigration.Completed> f = new CompletableFuture<>();
        Thread.ofPlatform().name("incoming").daemon().start(() -> {
            try (SocketChannel ch = server.accept()) {
                f.complete(IncomingMigration.run(dest, ch));
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void patternMachineMigratesWhileRunningWithNothingLost(Transport transport) throws Exception {
        MachineSpec spec = MachineSpec.parse("memory=64M,vcpus=2,workload=pattern,dirty-rate=32M");
        try (Machine src = Machine.create("src", spec, RunState.RUNNING);
                Machine dst = Machine.create("dst", spec, RunState.INMIGRATE);
                ServerSocketChannel server = listen(transport)) {
            dst.stop(); // keep the destination paused after the migration, so it can be compared
            PatternWorkload srcWork = (PatternWorkload) src.workload();
            await().atMost(TestTimeouts.SHORT).until(() -> srcWork.progress() > 1000);
            CompletableFuture<IncomingMigration.Completed> in = incoming(server, dst);
            TestControl control = new TestControl(true, 3, 0);
            MigrationResult result;
            try (SocketChannel ch = SocketChannel.open(server.getLocalAddress())) {
                result = new PrecopySender(src, ch, new ConvergencePolicy(Duration.ofMillis(300)), control).run();
            }
            IncomingMigration.Completed done = in.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS);

            assertThat(result.passes()).isGreaterThanOrEqualTo(3);
            assertThat(done.passes()).isEqualTo(result.passes());
            // Only pages ever written are sent (the rest is zero on both sides); each at least once,
            // and those dirtied again during the migration once more.
            long written = 0;
            for (dev.converge.migration.machine.RamBlock block : src.ram().blocks()) {
                for (long pg = 0; pg < block.pages(); pg++) {
                    written += block.dirtyLog().everWritten(pg) ? 1 : 0;
                }
            }
            assertThat(result.pagesSent() + result.zeroPages()).as("every page ever written was sent")
                    .isGreaterThanOrEqualTo(written);
            assertThat(done.pages()).isEqualTo(result.pagesSent() + result.zeroPages());
            assertThat(src.runState()).isEqualTo(RunState.POSTMIGRATE);
            assertThat(dst.runState()).isEqualTo(RunState.PAUSED);
            // At the switchover point the source is stopped: both must hold the same bytes.
            assertThat(dst.ramDigest()).isEqualTo(src.ramDigest());
            PatternWorkload dstWork = (PatternWorkload) dst.workload();
            assertThat(dstWork.progress()).as("workload state migrated").isEqualTo(srcWork.progress());
            assertThat(dstWork.checkInvariant(dst.ram().blocks().get(0))).isEmpty();

            // The destination runs on from where the source stopped.
            long p = dstWork.progress();
            dst.cont();
            await().atMost(TestTimeouts.SHORT).until(() -> dstWork.progress() > p + 500);
            dst.stop();
            assertThat(dstWork.checkInvariant(dst.ram().blocks().get(0))).isEmpty();
        }
    }

    @Test
    void stressUnderBandwidthCapKeepsIteratingWithAnHonestDowntime() throws Exception {
        MachineSpec spec = MachineSpec.parse("memory=32M,vcpus=2,workload=stress,dirty-rate=64M,working-set=2M");
        long cap = 4L << 20;
        try (Machine src = Machine.create("src", spec, RunState.RUNNING);
                Machine dst = Machine.create("dst", spec, RunState.INMIGRATE);
                ServerSocketChannel server = listen(Transport.TCP)) {
            // A first pass with nothing in it would measure no bandwidth worth the name and could converge at once.
            dev.converge.migration.machine.WorkingSet.awaitMostlyWritten(src, 512);
            CompletableFuture<IncomingMigration.Completed> in = incoming(server, dst);
            TestControl control = new TestControl(true, 1, cap);
            CompletableFuture<MigrationResult> out = new CompletableFuture<>();
            SocketChannel ch = SocketChannel.open(server.getLocalAddress());
            Thread sender = Thread.ofPlatform().name("sender").start(() -> {
                try {
                    out.complete(new PrecopySender(src, ch, new ConvergencePolicy(Duration.ofMillis(50)), control).run());
                } catch (Throwable e) {
                    out.completeExceptionally(e);
                }
            });
            assertThat(control.awaitPasses(TestTimeouts.MEDIUM)).isTrue();
            control.cancel();
            assertThatThrownBy(() -> out.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS))
                    .hasCauseInstanceOf(MigrationException.Cancelled.class);
            sender.join(TestTimeouts.SHORT.toMillis());
            ch.close();

            assertThat(control.converged.getCount()).as("never converged").isEqualTo(1);
            MigrationProgress last = control.passes().get(2);
            assertThat(last.converged()).isFalse();
            assertThat(last.remainingBytes()).isPositive().isLessThanOrEqualTo(spec.workingSetOrMemory());
            // Honest: the measured bandwidth is the cap, and the downtime is remaining ÷ that bandwidth.
            assertThat(last.bandwidth()).isBetween(cap * 0.5, cap * 1.2);
            // ... plus the measured fixed cost of the switchover (the destination's lag and round trip).
            assertThat(last.expectedDowntimeMs()).isGreaterThanOrEqualTo((long) Math.ceil(last.remainingBytes() * 1000.0 / last.bandwidth()));
            assertThat(last.expectedDowntimeMs()).isGreaterThan(50);

            assertThat(src.runState()).isEqualTo(RunState.RUNNING);
            assertThatThrownBy(() -> in.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS))
                    .hasCauseInstanceOf(MigrationException.ChannelFailed.class);
            assertThat(dst.runState()).isEqualTo(RunState.INMIGRATE);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void vanishingDestinationFailsTheSenderWhileTheSourceKeepsRunning(Transport transport) throws Exception {
        MachineSpec spec = MachineSpec.parse("memory=64M,vcpus=1,workload=pattern,dirty-rate=256M");
        try (Machine src = Machine.create("src", spec, RunState.RUNNING);
                ServerSocketChannel server = listen(transport)) {
            // One whole pattern pass first: every page holds data, so the stream is far larger
            // than what the destination reads plus the socket buffers.
            PatternWorkload pattern = (PatternWorkload) src.workload();
            await().atMost(TestTimeouts.MEDIUM).until(() -> pattern.progress() > spec.memory() / 4096);
            CompletableFuture<Void> gone = new CompletableFuture<>();
            Thread.ofPlatform().name("vanishing").daemon().start(() -> {
                try (SocketChannel ch = server.accept()) {
                    ByteBuffer b = ByteBuffer.allocate(1 << 20);
                    while (b.hasRemaining() && ch.read(b) >= 0) {
                        // read the first MiB, then vanish
                    }
                    gone.complete(null);
                } catch (Throwable e) {
                    gone.completeExceptionally(e);
                }
            });
            try (SocketChannel ch = SocketChannel.open(server.getLocalAddress())) {
                assertThatThrownBy(() -> new PrecopySender(src, ch, new ConvergencePolicy(Duration.ofMillis(300)),
                        new TestControl(true, 1, 0)).run())
                        .isInstanceOf(MigrationException.ChannelFailed.class)
                        .hasMessageStartingWith("migration stream to the destination failed: ");
            }
            gone.get(TestTimeouts.SHORT.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(src.runState()).isEqualTo(RunState.RUNNING);
            PatternWorkload w = (PatternWorkload) src.workload();
            long p = w.progress();
            await().atMost(TestTimeouts.SHORT).until(() -> w.progress() > p + 100);
        }
    }

    @Test
    void destinationVanishingAtSwitchoverResumesTheSource() throws Exception {
        MachineSpec spec = MachineSpec.parse("memory=16M,vcpus=1,workload=pattern,dirty-rate=8M");
        try (Machine src = Machine.create("src", spec, RunState.RUNNING);
                ServerSocketChannel server = listen(Transport.TCP)) {
            CompletableFuture<Void> gone = new CompletableFuture<>();
            Thread.ofPlatform().name("no-ack").daemon().start(() -> {
                try (SocketChannel ch = server.accept()) {
                    // Reads the whole stream up to COMPLETE, then leaves without acknowledging it.
                    StreamDecoder d = new StreamDecoder();
                    ByteBuffer b = ByteBuffer.allocateDirect(WireFormat.MAX_RECORD_SIZE);
                    boolean complete = false;
                    while (!complete && ch.read(b) >= 0) {
                        b.flip();
                        dev.converge.migration.wire.StreamRecord r;
                        while (!complete && (r = d.decode(b)) != null) {
                            complete = r instanceof dev.converge.migration.wire.StreamRecord.Complete;
                            if (r instanceof dev.converge.migration.wire.StreamRecord.EndOfPass e) {
                                ByteBuffer ack = dev.converge.migration.wire.StreamEncoder.encode(
                                        new dev.converge.migration.wire.ReturnMessage.PassAck(e.pass()));
                                while (ack.hasRemaining()) {
                                    ch.write(ack);
                                }
                            }
                        }
                        b.compact();
                    }
                    gone.complete(null);
                } catch (Throwable e) {
                    gone.completeExceptionally(e);
                }
            });
            try (SocketChannel ch = SocketChannel.open(server.getLocalAddress())) {
                assertThatThrownBy(() -> new PrecopySender(src, ch, new ConvergencePolicy(Duration.ofMillis(300)),
                        new TestControl(true, 1, 0)).run())
                        .isInstanceOf(MigrationException.ChannelFailed.class)
                        .hasMessage("destination closed the return path before acknowledging COMPLETE");
            }
            gone.get(TestTimeouts.SHORT.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(src.runState()).isEqualTo(RunState.RUNNING);
            PatternWorkload w = (PatternWorkload) src.workload();
            long p = w.progress();
            await().atMost(TestTimeouts.SHORT).until(() -> w.progress() > p + 100);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void truncatedOrCorruptedStreamOverASocketFailsTheDestinationCleanly(Transport transport) throws Exception {
        MachineSpec spec = MachineSpec.parse("memory=4M,vcpus=1,workload=pattern");
        byte[] stream;
        String sourceDigest;
        try (Machine src = Machine.create("src", spec, RunState.RUNNING)) {
            PatternWorkload w = (PatternWorkload) src.workload();
            await().atMost(TestTimeouts.SHORT).until(() -> w.progress() > 2000);
            src.stop();
            MemoryChannel capture = new MemoryChannel(IncomingMigrationTest.bytes(
                    dev.converge.migration.wire.StreamEncoder.encode(new dev.converge.migration.wire.ReturnMessage.AckComplete())), 64);
            new PrecopySender(src, capture, new ConvergencePolicy(Duration.ofMillis(300)), new TestControl(true, 1, 0)).run();
            stream = capture.written();
            sourceDigest = src.ramDigest();
        }
        byte[] corrupted = stream.clone();
        corrupted[corrupted.length / 2] ^= 0x5a; // somewhere in page data or a record header
        corrupted[5] = 9; // version 3 -> 0x0903
        try (Machine dst = Machine.create("dst", spec, RunState.INMIGRATE);
                ServerSocketChannel server = listen(transport)) {
            dst.stop();
            String empty = dst.ramDigest();
            for (byte[] bad : new byte[][] {java.util.Arrays.copyOf(stream, stream.length / 3), corrupted}) {
                CompletableFuture<IncomingMigration.Completed> in = incoming(server, dst);
                try (SocketChannel ch = SocketChannel.open(server.getLocalAddress())) {
                    ByteBuffer b = ByteBuffer.wrap(bad);
                    try {
                        while (b.hasRemaining()) {
                            ch.write(b);
                        }
                        ch.shutdownOutput();
                    } catch (IOException expected) {
                        // the destination refused the stream and closed before reading it all
                    }
                    assertThatThrownBy(() -> in.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS))
                            .cause().isInstanceOfAny(MigrationException.ChannelFailed.class, MigrationException.ProtocolFailed.class)
                            .hasMessageContainingAll("incoming migration stream");
                }
                assertThat(dst.runState()).isEqualTo(RunState.INMIGRATE);
                assertThat(dst.ramDigest()).isEqualTo(empty);
            }
            CompletableFuture<IncomingMigration.Completed> in = incoming(server, dst);
            try (SocketChannel ch = SocketChannel.open(server.getLocalAddress())) {
                ByteBuffer b = ByteBuffer.wrap(stream);
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                in.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS);
            }
            assertThat(dst.ramDigest()).isEqualTo(sourceDigest);
            assertThat(((PatternWorkload) dst.workload()).checkInvariant(dst.ram().blocks().get(0))).isEmpty();
        }
    }
}
