package dev.converge.nbd.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.nbd.wire.NbdProtocol.ClientFlag;
import dev.converge.nbd.wire.NbdProtocol.InfoType;
import dev.converge.nbd.wire.NbdProtocol.OptionReplyType;
import java.nio.ByteBuffer;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class HandshakeCodecTest {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    void greetingBytes() throws Exception {
        byte[] b = Feed.bytes(ServerGreeting.standard().encode());
        assertThat(HEX.formatHex(b)).isEqualTo("4e42444d41474943" + "49484156454f5054" + "0003");
        assertThat(Feed.byteByByte(b, ServerGreeting::decode)).containsExactly(ServerGreeting.standard());
    }

    @Test
    void greetingWithBadMagicIsRejected() {
        byte[] b = HEX.parseHex("4e42444d41474944" + "49484156454f5054" + "0003");
        assertThatThrownBy(() -> ServerGreeting.decode(ByteBuffer.wrap(b)))
                .isInstanceOf(NbdProtocolException.BadMagic.class)
                .hasMessage("greeting magic: 0x4e42444d41474944 (expected: 0x4e42444d41474943)");
    }

    @Test
    void clientFlags() throws Exception {
        byte[] b = Feed.bytes(new ClientFlags(EnumSet.allOf(ClientFlag.class)).encode());
        assertThat(HEX.formatHex(b)).isEqualTo("00000003");
        assertThat(Feed.byteByByte(b, ClientFlags::decode).getFirst().flags())
                .containsExactlyInAnyOrder(ClientFlag.FIXED_NEWSTYLE, ClientFlag.NO_ZEROES);
        assertThatThrownBy(() -> ClientFlags.decode(ByteBuffer.wrap(HEX.parseHex("00000007"))))
                .isInstanceOf(NbdProtocolException.UnknownCode.class);
    }

    @Test
    void goRequestBytes() throws Exception {
        OptionRequest go = OptionRequest.go("ab", List.of(InfoType.BLOCK_SIZE, InfoType.NAME));
        byte[] b = Feed.bytes(go.encode());
        assertThat(HEX.formatHex(b)).isEqualTo("49484156454f5054" + "00000007" + "0000000c"
                + "00000002" + "6162" + "0002" + "0003" + "0001");
        ExportInfoRequest parsed = ExportInfoRequest.parse(Feed.byteByByte(b, OptionRequest::decode)
                .getFirst().payload());
        assertThat(parsed).isEqualTo(new ExportInfoRequest("ab", List.of(3, 1)));
    }

    @Test
    void optionsDecodeAtEverySplitPoint() throws Exception {
        List<OptionRequest> sent = List.of(OptionRequest.structuredReply(),
                OptionRequest.setMetaContext("disk", List.of("base:allocation", "qemu:dirty-bitmap:b0")),
                OptionRequest.list(), OptionRequest.exportName("x"), OptionRequest.abort());
        byte[] b = Feed.bytes(sent.stream().map(OptionRequest::encode).toArray(ByteBuffer[]::new));
        for (int cut = 0; cut <= b.length; cut++) {
            assertThat(Feed.cut(b, OptionRequest::decode, cut)).as("cut at %d", cut).isEqualTo(sent);
        }
        assertThat(Feed.byteByByte(b, OptionRequest::decode)).isEqualTo(sent);
    }

    @Test
    void unknownOptionCodeIsFramedButTypedRejected() throws Exception {
        byte[] b = HEX.parseHex("49484156454f5054" + "00000063" + "00000001" + "ff");
        OptionRequest r = OptionRequest.decode(ByteBuffer.wrap(b));
        assertThat(r.code()).isEqualTo(0x63);
        assertThatThrownBy(r::option).isInstanceOf(NbdProtocolException.UnknownCode.class);
    }

    @Test
    void optionLengthIsCheckedBeforeAllocating() {
        byte[] b = HEX.parseHex("49484156454f5054" + "00000007" + "7fffffff");
        ByteBuffer in = ByteBuffer.wrap(b);
        assertThatThrownBy(() -> OptionRequest.decode(in)).isInstanceOf(NbdProtocolException.LimitExceeded.class)
                .hasMessage("option length: 2147483647 (expected: <= 65536)");
        assertThat(in.position()).isZero();
    }

    @Test
    void optionWithBadMagicIsRejected() {
        byte[] b = HEX.parseHex("49484156454f5055" + "00000007" + "00000000");
        assertThatThrownBy(() -> OptionRequest.decode(ByteBuffer.wrap(b)))
                .isInstanceOf(NbdProtocolException.BadMagic.class);
    }

    @Test
    void metaContextRequestRejectsLiesAboutLengths() {
        // export name length 5000 > 4096
        byte[] tooLong = HEX.parseHex("00001388");
        assertThatThrownBy(() -> MetaContextRequest.parse(ByteBuffer.wrap(tooLong)))
                .isInstanceOf(NbdProtocolException.LimitExceeded.class)
                .hasMessage("export name length: 5000 (expected: <= 4096)");
        // query length points past the end
        byte[] past = HEX.parseHex("00000000" + "00000001" + "00000010" + "6261");
        assertThatThrownBy(() -> MetaContextRequest.parse(ByteBuffer.wrap(past)))
                .isInstanceOf(NbdProtocolException.Malformed.class).hasMessageContaining("meta context query length");
        byte[] manyQueries = HEX.parseHex("00000000" + "ffffffff");
        assertThatThrownBy(() -> MetaContextRequest.parse(ByteBuffer.wrap(manyQueries)))
                .isInstanceOf(NbdProtocolException.LimitExceeded.class);
        byte[] badUtf8 = HEX.parseHex("00000001" + "ff" + "00000000");
        assertThatThrownBy(() -> MetaContextRequest.parse(ByteBuffer.wrap(badUtf8)))
                .isInstanceOf(NbdProtocolException.Malformed.class).hasMessageContaining("UTF-8");
    }

    @Test
    void infoRequestCountMustMatchPayload() {
        byte[] b = HEX.parseHex("00000000" + "0002" + "0003");
        assertThatThrownBy(() -> ExportInfoRequest.parse(ByteBuffer.wrap(b)))
                .isInstanceOf(NbdProtocolException.Malformed.class)
                .hasMessage("info requests: 2 bytes (expected: 4 for 2 requests)");
    }

    @Test
    void optionRepliesRoundTripAtEverySplitPoint() throws Exception {
        List<OptionReply> sent = List.of(
                OptionReply.server("disk", "a disk"),
                OptionReply.infoExport(7, 1 << 20, 0x1ed),
                OptionReply.infoBlockSize(7, 1, 4096, 32 << 20),
                OptionReply.infoName(7, "disk"),
                OptionReply.metaContext(10, 0, "base:allocation"),
                OptionReply.error(7, OptionReplyType.ERR_UNKNOWN, "export 'x' not present"),
                OptionReply.ack(7));
        byte[] b = Feed.bytes(sent.stream().map(OptionReply::encode).toArray(ByteBuffer[]::new));
        for (int cut = 0; cut <= b.length; cut += 3) {
            assertThat(Feed.cut(b, OptionReply::decode, cut)).isEqualTo(sent);
        }
        assertThat(Feed.byteByByte(b, OptionReply::decode)).isEqualTo(sent);
    }

    @Test
    void infoExportBytes() {
        byte[] b = Feed.bytes(OptionReply.infoExport(7, 0x100000, 0x0d09).encode());
        assertThat(HEX.formatHex(b)).isEqualTo("0003e889045565a9" + "00000007" + "00000003" + "0000000c"
                + "0000" + "0000000000100000" + "0d09");
    }

    @Test
    void unknownOptionReplyTypeIsRejected() {
        byte[] b = HEX.parseHex("0003e889045565a9" + "00000007" + "00000009" + "00000000");
        assertThatThrownBy(() -> OptionReply.decode(ByteBuffer.wrap(b)))
                .isInstanceOf(NbdProtocolException.UnknownCode.class).hasMessageContaining("option reply type");
    }

    @Test
    void exportNameReplyPadding() {
        assertThat(new ExportNameReply(512, 3, true).encode().remaining()).isEqualTo(134);
        byte[] b = Feed.bytes(new ExportNameReply(512, 3, false).encode());
        assertThat(HEX.formatHex(b)).isEqualTo("0000000000000200" + "0003");
        assertThat(ExportNameReply.decode(ByteBuffer.wrap(b), false)).isEqualTo(new ExportNameReply(512, 3, false));
        assertThat(ExportNameReply.decode(ByteBuffer.wrap(b), true)).isNull();
    }
}
