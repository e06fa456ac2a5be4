package dev.converge.migration.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The postcopy records and return messages: byte vectors and round trips. */
class PostcopyCodecTest {
    private static final HexFormat HEX = HexFormat.of();
    private static final String DIGEST = "00".repeat(31) + "ff";

    private static String hex(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return HEX.formatHex(a);
    }

    @Test
    void discardIsBlockReservedFirstPageAndWords() {
        ByteBuffer b = StreamEncoder.encode(new StreamRecord.PostcopyDiscard(1, 64, new long[] {0x5L}));
        assertThat(hex(b)).isEqualTo("0b000000" + "18000000" + "01000000" + "00000000" + "4000000000000000"
                + "0500000000000000");
    }

    @Test
    void preemptIsTypeSixteenWithoutPayload() {
        assertThat(hex(StreamEncoder.encode(new StreamRecord.PostcopyPreempt()))).isEqualTo("10000000" + "00000000");
    }

    @Test
    void pageRequestIsBlockReservedAndOffset() {
        assertThat(hex(StreamEncoder.encode(new ReturnMessage.PageRequest(2, 8192))))
                .isEqualTo("05000000" + "10000000" + "02000000" + "00000000" + "0020000000000000");
    }

    @Test
    void postcopyRecordsRoundTripInAVerifiedStream() throws WireFormatException {
        List<StreamRecord> records = List.of(
                new StreamRecord.PostcopyListen(),
                new StreamRecord.PostcopyDiscard(0, 0, new long[] {1L, -1L}),
                new StreamRecord.DeviceState(ByteBuffer.wrap(new byte[] {7})),
                new StreamRecord.PostcopyRun(),
                new StreamRecord.ZeroPage(0, 4096),
                new StreamRecord.PostcopyEnd(DIGEST),
                new StreamRecord.PostcopyResume(),
                new StreamRecord.PostcopyPreempt());
        ByteBuffer in = ByteBuffer.allocate(1 << 16);
        StreamEncoder.putHeader(in, WireFormat.VERSION_CURRENT, WireFormat.FLAG_VERIFIED);
        in.put(StreamEncoder.encode(new StreamRecord.RamBlocks(List.of(new StreamRecord.BlockInfo("pc.ram", 256 * 4096))),
                true));
        for (StreamRecord r : records) {
            in.put(StreamEncoder.encode(r, true));
        }
        in.flip();
        StreamDecoder d = new StreamDecoder();
        List<StreamRecord> out = new ArrayList<>();
        StreamRecord r;
        while ((r = d.decode(in)) != null) {
            out.add(r);
        }
        assertThat(out.subList(2, out.size())).isEqualTo(records);
    }

    @Test
    void aDiscardBeyondItsBlockIsRefused() {
        ByteBuffer in = ByteBuffer.allocate(4096);
        StreamEncoder.putHeader(in, WireFormat.VERSION_CURRENT);
        in.put(StreamEncoder.encode(new StreamRecord.RamBlocks(List.of(new StreamRecord.BlockInfo("pc.ram", 64 * 4096)))));
        in.put(StreamEncoder.encode(new StreamRecord.PostcopyDiscard(0, 0, new long[] {1L, 1L})));
        in.flip();
        StreamDecoder d = new StreamDecoder();
        assertThatThrownBy(() -> {
            while (d.decode(in) != null) {
                // header, layout, then the refused discard
            }
        }).isInstanceOf(WireFormatException.class).hasMessageContaining("bitmap of block 'pc.ram'");
    }

    @Test
    void returnMessagesRoundTripAndBadOnesAreRefused() throws WireFormatException {
        List<ReturnMessage> messages = List.of(new ReturnMessage.PageRequest(0, 4096),
                new ReturnMessage.ReceivedBitmap(1, 128, new long[] {3L}), new ReturnMessage.ResumeReady(),
                new ReturnMessage.PostcopyDone());
        ByteBuffer in = ByteBuffer.allocate(1024);
        messages.forEach(m -> in.put(StreamEncoder.encode(m)));
        in.flip();
        List<ReturnMessage> out = new ArrayList<>();
        ReturnMessage m;
        while ((m = ReturnDecoder.decode(in)) != null) {
            out.add(m);
        }
        assertThat(out).isEqualTo(messages);

        ByteBuffer unaligned = StreamEncoder.encode(new ReturnMessage.PageRequest(0, 4096));
        unaligned.putLong(16, 4095);
        assertThatThrownBy(() -> ReturnDecoder.decode(unaligned)).isInstanceOf(WireFormatException.class)
                .hasMessageContaining("PAGE_REQUEST offset: 4095");
    }
}
