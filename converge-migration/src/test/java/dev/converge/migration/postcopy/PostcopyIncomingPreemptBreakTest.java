package dev.converge.migration.postcopy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.multifd.ChannelAcceptor;
import dev.converge.migration.precopy.MigrationException;
import dev.converge.migration.wire.StreamDecoder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A destination whose postcopy preempt channel breaks says why: the preempt reader closes the
 * main channel to make the pair stop together, and the failure it reports must be the preempt
 * channel's, not the closed main channel's (whose exception has no message: the error-desc
 * used to read "incoming migration stream failed: null").
 */
class PostcopyIncomingPreemptBreakTest {
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
    }

    private SocketChannel[] connectedPair() throws IOException {
        try (ServerSocketChannel server = ServerSocketChannel.open()
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            SocketChannel a = SocketChannel.open(server.getLocalAddress());
            SocketChannel b = server.accept();
            closing.add(a);
            closing.add(b);
            return new SocketChannel[] {a, b};
        }
    }

    @Test
    void aPreemptChannelThatEndsBeforeTheGuestRunsFailsWithItsOwnReason() throws Exception {
        Machine machine = Machine.create("dst", MachineSpec.parse("memory=16M,vcpus=1,workload=idle"), RunState.PRELAUNCH);
        closing.add(machine);
        SocketChannel[] main = connectedPair();
        SocketChannel[] preempt = connectedPair();
        PreemptAcceptor acceptor = PreemptAcceptor.start(new ChannelAcceptor() {
            @Override
            public ByteChannel accept() {
                return preempt[1];
            }

            @Override
            public void close() {
            }
        }, "dst");
        List<String> phases = new ArrayList<>();
        PostcopyIncoming incoming = new PostcopyIncoming(machine, machine.ram().blocks(), null,
                (phase, why) -> phases.add(phase + ": " + why));
        preempt[0].close(); // the source's end of the preempt channel goes away before its greeting

        assertThatThrownBy(() -> incoming.run(main[1], new StreamDecoder(), ByteBuffer.allocate(64).flip(), 0, 1, acceptor))
                .isInstanceOf(MigrationException.ChannelFailed.class)
                .hasMessageContaining("postcopy preempt channel ended")
                .hasMessageNotContaining("null");
        assertThat(phases).isEmpty(); // not running yet: a failure, not a pause
    }

    @Test
    void aMessageLessIoFailureIsDescribedByItsKind() {
        assertThat(MigrationException.describe(new ClosedChannelException())).isEqualTo("ClosedChannelException");
        assertThat(MigrationException.describe(new IOException("Connection reset"))).isEqualTo("Connection reset");
    }
}
