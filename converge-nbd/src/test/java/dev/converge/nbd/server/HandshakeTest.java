package dev.converge.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.nbd.wire.ClientFlags;
import dev.converge.nbd.wire.NbdProtocol.ClientFlag;
import dev.converge.nbd.wire.NbdProtocol.InfoType;
import dev.converge.nbd.wire.NbdProtocol.Option;
import dev.converge.nbd.wire.NbdProtocol.OptionReplyType;
import dev.converge.nbd.wire.NbdProtocol.TransmissionFlag;
import dev.converge.nbd.wire.NbdProtocolException;
import dev.converge.nbd.wire.OptionReply;
import dev.converge.nbd.wire.OptionRequest;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The handshake step function, one state and one option at a time, without sockets. */
class HandshakeTest {
    private final NbdExport disk = new NbdExport("disk", "a disk", true, new MemoryBackend(1 << 20),
            List.of(MemoryBackend.BITMAP), true);
    private final NbdExport ro = NbdExport.readOnly("ro", new MemoryBackend(8192));
    private final Map<String, NbdExport> exports = Map.of("disk", disk, "ro", ro);
    private final Handshake.Context plain = new Handshake.Context(exports::get, () -> List.of(disk, ro), false);
    private final Handshake.Context tls = new Handshake.Context(exports::get, () -> List.of(disk, ro), true);

    private static Handshake.Negotiating fresh() {
        return Handshake.start(new ClientFlags(EnumSet.of(ClientFlag.FIXED_NEWSTYLE, ClientFlag.NO_ZEROES)));
    }

    private static List<OptionReply> replies(Handshake.Step step) throws NbdProtocolException {
        List<OptionReply> out = new ArrayList<>();
        for (ByteBuffer b : step.replies()) {
            ByteBuffer d = b.duplicate();
            out.add(OptionReply.decode(d));
            assertThat(d.hasRemaining()).isFalse();
        }
        return out;
    }

    private Handshake.State structured(Handshake.Context ctx) {
        return Handshake.step(fresh(), OptionRequest.structuredReply(), ctx).next();
    }

    @Test
    void listNamesEveryExportThenAcks() throws Exception {
        Handshake.Step s = Handshake.step(fresh(), OptionRequest.list(), plain);
        assertThat(replies(s)).containsExactly(OptionReply.server("disk", "a disk"), OptionReply.server("ro", ""),
                OptionReply.ack(3));
        assertThat(s.next()).isEqualTo(fresh());
    }

    @Test
    void unknownOptionIsUnsupportedAndChangesNothing() throws Exception {
        Handshake.Step s = Handshake.step(fresh(), new OptionRequest(0x42, new byte[3]), plain);
        List<OptionReply> r = replies(s);
        assertThat(r).singleElement().extracting(OptionReply::type).isEqualTo(OptionReplyType.ERR_UNSUP);
        assertThat(r.getFirst().message()).isEqualTo("Unsupported option 0x42 (<unknown Option 66>)");
        assertThat(s.next()).isEqualTo(fresh());
    }

    @Test
    void goOnUnknownExportIsErrUnknown() throws Exception {
        Handshake.Step s = Handshake.step(fresh(), OptionRequest.go("nope", List.of()), plain);
        assertThat(replies(s)).singleElement().satisfies(r -> {
            assertThat(r.type()).isEqualTo(OptionReplyType.ERR_UNKNOWN);
            assertThat(r.message()).isEqualTo("export 'nope' not present");
        });
        assertThat(s.next()).isInstanceOf(Handshake.Negotiating.class);
    }

    @Test
    void infoAnswersAndStaysNegotiatingWhileGoEntersTransmission() throws Exception {
        OptionRequest info = OptionRequest.info("disk", List.of(InfoType.NAME, InfoType.DESCRIPTION));
        Handshake.Step s = Handshake.step(fresh(), info, plain);
        int flags = disk.transmissionFlags(false);
        assertThat(replies(s)).containsExactly(OptionReply.infoName(6, "disk"), OptionReply.infoDescription(6, "a disk"),
                OptionReply.infoBlockSize(6, 1, 4096, 32 << 20), OptionReply.infoExport(6, 1 << 20, flags),
                OptionReply.ack(6));
        assertThat(s.next()).isInstanceOf(Handshake.Negotiating.class);
        Handshake.Step go = Handshake.step(s.next(), OptionRequest.go("disk", List.of()), plain);
        assertThat(go.next()).isEqualTo(new Handshake.Transmitting(disk, false, false, List.of()));
    }

    @Test
    void transmissionFlagsFollowQemu() throws Exception {
        assertThat(TransmissionFlag.fromBits(disk.transmissionFlags(true))).containsExactlyInAnyOrder(
                TransmissionFlag.HAS_FLAGS, TransmissionFlag.SEND_FLUSH, TransmissionFlag.SEND_FUA,
                TransmissionFlag.SEND_TRIM, TransmissionFlag.SEND_WRITE_ZEROES, TransmissionFlag.SEND_FAST_ZERO,
                TransmissionFlag.CAN_MULTI_CONN, TransmissionFlag.SEND_DF);
        assertThat(TransmissionFlag.fromBits(ro.transmissionFlags(false))).containsExactlyInAnyOrder(
                TransmissionFlag.HAS_FLAGS, TransmissionFlag.SEND_FLUSH, TransmissionFlag.SEND_FUA,
                TransmissionFlag.READ_ONLY, TransmissionFlag.CAN_MULTI_CONN);
    }

    @Test
    void exportNameRepliesWithSizeAndFlagsOrCloses() {
        Handshake.Step s = Handshake.step(fresh(), OptionRequest.exportName("ro"), plain);
        assertThat(s.replies()).singleElement().satisfies(b -> {
            assertThat(b.remaining()).isEqualTo(10); // NO_ZEROES agreed
            assertThat(b.getLong(0)).isEqualTo(8192);
        });
        assertThat(s.next()).isInstanceOf(Handshake.Transmitting.class);
        Handshake.Step withZeroes = Handshake.step(Handshake.start(new ClientFlags(EnumSet.of(ClientFlag.FIXED_NEWSTYLE))),
                OptionRequest.exportName("ro"), plain);
        assertThat(withZeroes.replies().getFirst().remaining()).isEqualTo(134);
        Handshake.Step unknown = Handshake.step(fresh(), OptionRequest.exportName("x"), plain);
        assertThat(unknown.replies()).isEmpty();
        assertThat(unknown.next()).isEqualTo(new Handshake.Closed("export 'x' not present"));
    }

    @Test
    void abortAcksAndCloses() throws Exception {
        Handshake.Step s = Handshake.step(fresh(), OptionRequest.abort(), plain);
        assertThat(replies(s)).containsExactly(OptionReply.ack(2));
        assertThat(s.next()).isInstanceOf(Handshake.Closed.class);
    }

    @Test
    void structuredReplyOnlyOnce() throws Exception {
        Handshake.State s1 = structured(plain);
        assertThat(((Handshake.Negotiating) s1).structured()).isTrue();
        Handshake.Step again = Handshake.step(s1, OptionRequest.structuredReply(), plain);
        assertThat(replies(again).getFirst().type()).isEqualTo(OptionReplyType.ERR_INVALID);
    }

    @Test
    void metaContextsNeedStructuredReplies() throws Exception {
        Handshake.Step s = Handshake.step(fresh(), OptionRequest.setMetaContext("disk", List.of("base:allocation")),
                plain);
        assertThat(replies(s).getFirst().type()).isEqualTo(OptionReplyType.ERR_INVALID);
        assertThat(replies(s).getFirst().message()).contains("structured reply is not negotiated");
    }

    @Test
    void listMetaContextMatchesNamespacesButSetNeedsExactNames() throws Exception {
        Handshake.State s = structured(plain);
        assertThat(replies(Handshake.step(s, OptionRequest.listMetaContext("disk", List.of()), plain))).containsExactly(
                OptionReply.metaContext(9, 0, "base:allocation"), OptionReply.metaContext(9, 1, "qemu:dirty-bitmap:dirty0"),
                OptionReply.ack(9));
        assertThat(replies(Handshake.step(s, OptionRequest.listMetaContext("disk", List.of("qemu:")), plain)))
                .containsExactly(OptionReply.metaContext(9, 1, "qemu:dirty-bitmap:dirty0"), OptionReply.ack(9));
        Handshake.Step set = Handshake.step(s, OptionRequest.setMetaContext("disk",
                List.of("base:", "base:allocation", "qemu:dirty-bitmap:nope", "qemu:dirty-bitmap:dirty0")), plain);
        assertThat(replies(set)).containsExactly(OptionReply.metaContext(10, 0, "base:allocation"),
                OptionReply.metaContext(10, 1, "qemu:dirty-bitmap:dirty0"), OptionReply.ack(10));
        Handshake.Step go = Handshake.step(set.next(), OptionRequest.go("disk", List.of()), plain);
        assertThat(((Handshake.Transmitting) go.next()).contexts()).containsExactly(MetaContext.BASE_ALLOCATION,
                MetaContext.dirtyBitmap(0, "dirty0"));
        Handshake.Step goOther = Handshake.step(set.next(), OptionRequest.go("ro", List.of()), plain);
        assertThat(((Handshake.Transmitting) goOther.next()).contexts()).isEmpty();
        Handshake.Step unknownExport = Handshake.step(s, OptionRequest.setMetaContext("x", List.of()), plain);
        assertThat(replies(unknownExport).getFirst().type()).isEqualTo(OptionReplyType.ERR_UNKNOWN);
    }

    @Test
    void malformedPayloadIsErrInvalidAndTheHandshakeGoesOn() throws Exception {
        Handshake.Step s = Handshake.step(fresh(), OptionRequest.of(Option.GO, new byte[] {0, 0, 0, 9, 'a'}), plain);
        OptionReply r = replies(s).getFirst();
        assertThat(r.type()).isEqualTo(OptionReplyType.ERR_INVALID);
        assertThat(r.message()).startsWith("option GO: export name length: 9");
        assertThat(s.next()).isEqualTo(fresh());
    }

    @Test
    void startTlsWithoutCredentialsIsPolicyError() throws Exception {
        Handshake.Step s = Handshake.step(fresh(), OptionRequest.startTls(), plain);
        assertThat(replies(s).getFirst().type()).isEqualTo(OptionReplyType.ERR_POLICY);
        assertThat(replies(s).getFirst().message()).isEqualTo("TLS not configured");
        assertThat(s.action()).isEqualTo(Handshake.Action.NONE);
    }

    @Test
    void withCredentialsEverythingButStartTlsNeedsTlsFirst() throws Exception {
        Handshake.Step list = Handshake.step(fresh(), OptionRequest.list(), tls);
        assertThat(replies(list).getFirst().type()).isEqualTo(OptionReplyType.ERR_TLS_REQD);
        Handshake.Step go = Handshake.step(fresh(), OptionRequest.go("disk", List.of()), tls);
        assertThat(replies(go).getFirst().type()).isEqualTo(OptionReplyType.ERR_TLS_REQD);
        assertThat(Handshake.step(fresh(), OptionRequest.exportName("disk"), tls).next())
                .isInstanceOf(Handshake.Closed.class);
        Handshake.Step start = Handshake.step(fresh(), OptionRequest.startTls(), tls);
        assertThat(replies(start)).containsExactly(OptionReply.ack(5));
        assertThat(start.action()).isEqualTo(Handshake.Action.START_TLS);
        Handshake.Step after = Handshake.step(start.next(), OptionRequest.list(), tls);
        assertThat(replies(after).getLast()).isEqualTo(OptionReply.ack(3));
        Handshake.Step twice = Handshake.step(start.next(), OptionRequest.startTls(), tls);
        assertThat(replies(twice).getFirst().message()).isEqualTo("TLS already enabled");
    }

    @Test
    void optionsAfterTheHandshakeAreABug() {
        Handshake.State t = new Handshake.Transmitting(disk, false, false, List.of());
        assertThatThrownBy(() -> Handshake.step(t, OptionRequest.list(), plain))
                .isInstanceOf(IllegalStateException.class).hasMessage("option LIST in state Transmitting");
    }
}
