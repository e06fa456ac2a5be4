package dev.converge.nbd.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.nbd.wire.NbdProtocol.Command;
import dev.converge.nbd.wire.NbdProtocol.CommandFlag;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Extended (32-byte, 64-bit length) requests and reply headers as byte vectors. */
class ExtendedHeaderCodecTest {
    private static ByteBuffer hex(String s) {
        return ByteBuffer.wrap(HexFormat.of().parseHex(s.replace(" ", "")));
    }

    private static String hex(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return HexFormat.of().formatHex(a);
    }

    @Test
    void aTrimOf5GibDecodesWithItsEffectLength() throws NbdProtocolException {
        // magic, flags FUA, type TRIM (4), cookie, offset 1 GiB, length 5 GiB
        ByteBuffer in = hex("21e41c71 0001 0004 00000000000000aa 0000000040000000 0000000140000000");
        Request r = new RequestDecoder().extended(true).decode(in);
        assertThat(r).isEqualTo(new Request(1, 4, 0xaa, 1L << 30, 5L << 30, null));
        assertThat(in.hasRemaining()).isFalse();
        assertThat(hex(r.encodeExtended())).isEqualTo("21e41c71" + "0001" + "0004" + "00000000000000aa" + "0000000040000000" + "0000000140000000");
        assertThatThrownBy(r::encode).hasMessageContaining("needs extended headers");
    }

    @Test
    void aWriteCarriesItsPayloadOnlyWithPayloadLen() throws NbdProtocolException {
        ByteBuffer in = hex("21e41c71 0020 0001 0000000000000001 0000000000001000 0000000000000003 abcdef"
                + "21e41c71 0000 0001 0000000000000002 0000000000001000 0000000000000003");
        RequestDecoder d = new RequestDecoder().extended(true);
        Request w = d.decode(in);
        assertThat(w.has(CommandFlag.PAYLOAD_LEN)).isTrue();
        assertThat(hex(w.payload())).isEqualTo("abcdef");
        Request bare = d.decode(in); // no PAYLOAD_LEN: nothing follows, the server answers EINVAL
        assertThat(bare.payload()).isNull();
        assertThat(bare.length()).isEqualTo(3);
        assertThat(in.hasRemaining()).isFalse();
    }

    @Test
    void aPayloadOnAnotherCommandIsReadPastAndHugeOnesAreFramingErrors() throws NbdProtocolException {
        ByteBuffer in = hex("21e41c71 0020 0003 0000000000000009 0000000000000000 0000000000000002 ffff"
                + "21e41c71 0000 0003 000000000000000a 0000000000000000 0000000000000000");
        RequestDecoder d = new RequestDecoder().extended(true);
        Request flush = d.decode(in);
        assertThat(flush.command()).isEqualTo(Command.FLUSH);
        assertThat(flush.cookie()).isEqualTo(9);
        assertThat(d.decode(in).cookie()).isEqualTo(10);
        assertThatThrownBy(() -> new RequestDecoder().extended(true).decode(
                hex("21e41c71 0020 0001 0000000000000001 0000000000000000 0000000002000001")))
                .isInstanceOf(NbdProtocolException.LimitExceeded.class);
        assertThatThrownBy(() -> new RequestDecoder().extended(true).decode(
                hex("25609513 0000 0000 0000000000000001 0000000000000000 00001000 00000000")))
                .isInstanceOf(NbdProtocolException.BadMagic.class);
    }

    @Test
    void replyHeaderAndBlockStatusExt() {
        assertThat(hex(StructuredChunk.extendedHeader(1, NbdProtocol.ReplyType.OFFSET_DATA, 5, 4096, 4104)))
                .isEqualTo("6e8a278c" + "0001" + "0001" + "0000000000000005" + "0000000000001000" + "0000000000001008");
        StructuredChunk c = StructuredChunk.blockStatusExt(5, 1, List.of(Extent.hole(1L << 31),
                Extent.data(4096)), true);
        assertThat(c.type()).isEqualTo(NbdProtocol.ReplyType.BLOCK_STATUS_EXT);
        assertThat(hex(c.payload())).isEqualTo("00000001" + "00000002"
                + "0000000080000000" + "0000000000000003" + "0000000000001000" + "0000000000000000");
        assertThat(Request.of(Command.READ, Set.of(), 1, 0, 1).encodeExtended().remaining()).isEqualTo(32);
    }
}
