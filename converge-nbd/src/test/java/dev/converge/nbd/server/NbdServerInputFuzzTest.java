package dev.converge.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.converge.nbd.wire.ClientFlags;
import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.nbd.wire.NbdProtocolException;
import dev.converge.nbd.wire.OptionRequest;
import dev.converge.nbd.wire.Request;
import dev.converge.nbd.wire.RequestDecoder;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * What an NBD server reads from a client, as hostile bytes: the client flags, option requests
 * through the handshake state machine (one export, no TLS), then transmission requests. Only
 * {@link NbdProtocolException} may come out of the decoders, the handshake never throws, and
 * nothing is allocated past the protocol's limits (a WRITE payload above the maximum is skipped).
 */
class NbdServerInputFuzzTest {
    private static final NbdExport EXPORT = NbdExport.writable("e", new MemoryBackend(1 << 16));
    private static final Handshake.Context CONTEXT = new Handshake.Context(n -> n.equals("e") ? EXPORT : null,
            () -> List.of(EXPORT), false);

    @FuzzTest(maxDuration = "30s")
    void handshakeAndRequestsOfAnyBytes(byte[] input) {
        ByteBuffer in = ByteBuffer.wrap(input);
        try {
            ClientFlags flags = ClientFlags.decode(in);
            if (flags == null) {
                return;
            }
            Handshake.State state = Handshake.start(flags);
            OptionRequest option;
            while (state instanceof Handshake.Negotiating && (option = OptionRequest.decode(in)) != null) {
                Handshake.Step step = Handshake.step(state, option, CONTEXT);
                assertThat(step.next()).isNotNull();
                state = step.next();
            }
            if (!(state instanceof Handshake.Transmitting)) {
                return;
            }
            RequestDecoder requests = new RequestDecoder(n -> {
                assertThat(n).isBetween(0, NbdProtocol.MAX_BUFFER_SIZE);
                return ByteBuffer.allocate(n);
            });
            for (Request r; (r = requests.decode(in)) != null;) {
                assertThat(r).isNotNull();
            }
        } catch (NbdProtocolException e) {
            assertThat(e.getMessage()).isNotBlank();
        }
    }
}
