package dev.converge.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.converge.nbd.wire.NbdProtocolException;
import dev.converge.nbd.wire.OptionReply;
import dev.converge.nbd.wire.Reply;
import dev.converge.nbd.wire.ReplyDecoder;
import dev.converge.nbd.wire.ServerGreeting;
import java.nio.ByteBuffer;

/**
 * What the NBD client reads from a server, as hostile bytes: the greeting, option replies and
 * transmission replies (simple and structured, with the READ lengths the client asked for).
 * Only {@link NbdProtocolException} may come out, and an incomplete frame is never consumed.
 */
class NbdClientReplyFuzzTest {
    @FuzzTest(maxDuration = "30s")
    void greetingOptionRepliesAndRepliesOfAnyBytes(FuzzedDataProvider data) {
        int readLength = data.consumeInt(0, 1 << 20);
        boolean viewing = data.consumeBoolean();
        ByteBuffer in = ByteBuffer.wrap(data.consumeRemainingAsBytes());
        try {
            if (ServerGreeting.decode(in.duplicate()) != null) {
                ServerGreeting.decode(in);
            }
            for (int i = 0; i < 4; i++) {
                int before = in.position();
                if (OptionReply.decode(in) == null) {
                    assertThat(in.position()).as("incomplete option reply not consumed").isEqualTo(before);
                    break;
                }
            }
            ReplyDecoder replies = viewing ? ReplyDecoder.viewing(cookie -> cookie % 2 == 0 ? readLength : 0)
                    : new ReplyDecoder(cookie -> cookie % 2 == 0 ? readLength : 0);
            while (true) {
                int before = in.position();
                Reply r = replies.decode(in);
                if (r == null) {
                    assertThat(in.position()).as("incomplete reply not consumed").isEqualTo(before);
                    break;
                }
                assertThat(in.position()).as("a reply consumes bytes").isGreaterThan(before);
            }
        } catch (NbdProtocolException e) {
            assertThat(e.getMessage()).isNotBlank();
        }
    }
}
