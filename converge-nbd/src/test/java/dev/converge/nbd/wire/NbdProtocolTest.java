package dev.converge.nbd.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.nbd.wire.NbdProtocol.ClientFlag;
import dev.converge.nbd.wire.NbdProtocol.Command;
import dev.converge.nbd.wire.NbdProtocol.CommandFlag;
import dev.converge.nbd.wire.NbdProtocol.Errno;
import dev.converge.nbd.wire.NbdProtocol.InfoType;
import dev.converge.nbd.wire.NbdProtocol.Option;
import dev.converge.nbd.wire.NbdProtocol.OptionReplyType;
import dev.converge.nbd.wire.NbdProtocol.ReplyType;
import dev.converge.nbd.wire.NbdProtocol.TransmissionFlag;
import java.util.EnumSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class NbdProtocolTest {

    @Test
    void magicsSpellTheSpecWords() {
        assertThat(new String(java.nio.ByteBuffer.allocate(8).putLong(0, NbdProtocol.NBDMAGIC).array()))
                .isEqualTo("NBDMAGIC");
        assertThat(new String(java.nio.ByteBuffer.allocate(8).putLong(0, NbdProtocol.IHAVEOPT).array()))
                .isEqualTo("IHAVEOPT");
        assertThat(NbdProtocol.OPTION_REPLY_MAGIC).isEqualTo(0x3e889045565a9L);
        assertThat(NbdProtocol.REQUEST_MAGIC).isEqualTo(0x25609513);
        assertThat(NbdProtocol.SIMPLE_REPLY_MAGIC).isEqualTo(0x67446698);
        assertThat(NbdProtocol.STRUCTURED_REPLY_MAGIC).isEqualTo(0x668e33ef);
        assertThat(NbdProtocol.MAX_BUFFER_SIZE).isEqualTo(32 << 20);
    }

    @Test
    void codesMatchTheSpec() {
        assertThat(Option.GO.code()).isEqualTo(7);
        assertThat(Option.SET_META_CONTEXT.code()).isEqualTo(10);
        assertThat(OptionReplyType.ERR_TLS_REQD.wire()).isEqualTo(0x80000005);
        assertThat(OptionReplyType.ERR_UNKNOWN.wire()).isEqualTo(0x80000006);
        assertThat(Command.BLOCK_STATUS.code()).isEqualTo(7);
        assertThat(CommandFlag.FAST_ZERO.code()).isEqualTo(16);
        assertThat(ReplyType.ERROR_OFFSET.code()).isEqualTo(0x8002);
        assertThat(TransmissionFlag.SEND_FAST_ZERO.code()).isEqualTo(1 << 11);
        assertThat(TransmissionFlag.CAN_MULTI_CONN.code()).isEqualTo(1 << 8);
        assertThat(Errno.EOVERFLOW.wire()).isEqualTo(75);
        assertThat(Errno.ESHUTDOWN.wire()).isEqualTo(108);
    }

    @ParameterizedTest
    @EnumSource(Option.class)
    void everyOptionRoundTrips(Option o) throws Exception {
        assertThat(Option.fromCode((int) o.code())).isEqualTo(o);
        assertThat(Option.describe((int) o.code())).isEqualTo(o.name());
    }

    @ParameterizedTest
    @EnumSource(Command.class)
    void everyCommandRoundTrips(Command c) throws Exception {
        assertThat(Command.fromCode((int) c.code())).isEqualTo(c);
    }

    @ParameterizedTest
    @EnumSource(OptionReplyType.class)
    void everyReplyTypeRoundTrips(OptionReplyType t) throws Exception {
        assertThat(OptionReplyType.fromCode(t.wire())).isEqualTo(t);
        assertThat(t.isError()).isEqualTo(t.wire() < 0);
    }

    @Test
    void unknownCodesAreRejectedNotDefaulted() {
        assertThatThrownBy(() -> Option.fromCode(12)).isInstanceOf(NbdProtocolException.UnknownCode.class)
                .hasMessage("option: unknown code 12 (0xc)");
        assertThatThrownBy(() -> Command.fromCode(9)).isInstanceOf(NbdProtocolException.UnknownCode.class)
                .hasMessageContaining("command");
        assertThatThrownBy(() -> ReplyType.fromCode(3)).isInstanceOf(NbdProtocolException.UnknownCode.class);
        assertThatThrownBy(() -> OptionReplyType.fromCode(0x8000000b))
                .isInstanceOf(NbdProtocolException.UnknownCode.class);
        assertThatThrownBy(() -> InfoType.fromCode(4)).isInstanceOf(NbdProtocolException.UnknownCode.class);
        assertThatThrownBy(() -> Errno.fromCode(2)).isInstanceOf(NbdProtocolException.UnknownCode.class);
        assertThatThrownBy(() -> ClientFlag.fromBits(4)).isInstanceOf(NbdProtocolException.UnknownCode.class)
                .hasMessageContaining("client flags");
        assertThatThrownBy(() -> CommandFlag.fromBits(1 << 6)).isInstanceOf(NbdProtocolException.UnknownCode.class);
        assertThat(Option.describe(99)).isEqualTo("<unknown Option 99>");
    }

    @Test
    void flagSetsEncodeAndDecode() throws Exception {
        var flags = EnumSet.of(TransmissionFlag.HAS_FLAGS, TransmissionFlag.READ_ONLY, TransmissionFlag.SEND_DF);
        int bits = NbdProtocol.bits(flags);
        assertThat(bits).isEqualTo(0b1000_0011);
        assertThat(TransmissionFlag.fromBits(bits)).isEqualTo(flags);
    }

    @ParameterizedTest
    @EnumSource(IoErrorKind.class)
    void errnoMappingIsStableBothWays(IoErrorKind kind) {
        Errno e = kind.toErrno();
        IoErrorKind back = IoErrorKind.fromWire(e.wire());
        assertThat(back.toErrno()).isEqualTo(e);
    }

    @Test
    void errnoMappingFollowsQemu() {
        assertThat(IoErrorKind.READ_ONLY.toErrno()).isEqualTo(Errno.EPERM);
        assertThat(IoErrorKind.TOO_BIG.toErrno()).isEqualTo(Errno.ENOSPC);
        assertThat(IoErrorKind.OTHER.toErrno()).isEqualTo(Errno.EINVAL);
        assertThat(IoErrorKind.fromWire(2)).isEqualTo(IoErrorKind.INVALID);
        assertThat(IoErrorKind.fromWire(95)).isEqualTo(IoErrorKind.NOT_SUPPORTED);
    }
}
