package dev.converge.migration.precopy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.wire.ReturnMessage;
import dev.converge.migration.wire.StreamEncoder;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * The race of a destination that refuses the stream: it sends ERROR and closes, and the source's
 * next write fails ("Broken pipe") before its return path has read the ERROR. The source reports
 * the destination's reason, not the broken pipe.
 */
class WriteFailureReasonTest {
    /**
     * Writes fail with "Broken pipe" after {@code accept} bytes; reads block until a write has
     * failed, then return {@code reply} and end: the reason always arrives after the write failed.
     */
    private static final class RefusingChannel implements ByteChannel, GatheringByteChannel {
        private final CountDownLatch writeFailed = new CountDownLatch(1);
        private final ByteBuffer reply;
        private long accept;

        RefusingChannel(long accept, ByteBuffer reply) {
            this.accept = accept;
            this.reply = reply;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            try {
                writeFailed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
            if (!reply.hasRemaining()) {
                return -1;
            }
            int n = Math.min(dst.remaining(), reply.remaining());
            dst.put(reply.slice(reply.position(), n));
            reply.position(reply.position() + n);
            return n;
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            long n = 0;
            for (int i = offset; i < offset + length; i++) {
                n += write(srcs[i]);
            }
            return n;
        }

        @Override
        public long write(ByteBuffer[] srcs) throws IOException {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            if (accept <= 0 && src.hasRemaining()) {
                writeFailed.countDown();
                throw new IOException("Broken pipe");
            }
            int n = (int) Math.min(accept, src.remaining());
            src.position(src.position() + n);
            accept -= n;
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    private static PrecopySender sender(Machine m, RefusingChannel ch) {
        return new PrecopySender(m, ch, () -> new ConvergencePolicy(Duration.ofMillis(300)), new TestControl(true, 1, 0), true);
    }

    @Test
    void theDestinationsReasonWinsOverTheBrokenPipe() {
        try (Machine m = Machine.create("s", IncomingMigrationTest.SPEC, RunState.RUNNING)) {
            m.ram().blocks().get(0).writeLong(0, 42);
            RefusingChannel ch = new RefusingChannel(100, StreamEncoder.encode(
                    new ReturnMessage.Error("incoming migration stream is corrupt: PAGE_BATCH checksum mismatch")));
            assertThatThrownBy(() -> sender(m, ch).run())
                    .isInstanceOf(MigrationException.DestinationFailed.class)
                    .hasMessage("destination failed the migration: incoming migration stream is corrupt: "
                            + "PAGE_BATCH checksum mismatch")
                    .satisfies(e -> assertThat(e.getSuppressed()).singleElement()
                            .satisfies(s -> assertThat(s).hasMessage("Broken pipe")));
            assertThat(m.runState()).isEqualTo(RunState.RUNNING);
        }
    }

    @Test
    void withoutAReasonTheWritesErrorStands() {
        try (Machine m = Machine.create("s", IncomingMigrationTest.SPEC, RunState.RUNNING)) {
            m.ram().blocks().get(0).writeLong(0, 42);
            RefusingChannel ch = new RefusingChannel(100, ByteBuffer.allocate(0));
            assertThatThrownBy(() -> sender(m, ch).run())
                    .isInstanceOf(MigrationException.ChannelFailed.class)
                    .hasMessage("migration stream to the destination failed: Broken pipe");
        }
    }
}
