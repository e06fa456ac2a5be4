package dev.converge.nbd.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.nbd.wire.NbdProtocol.Command;
import dev.converge.nbd.wire.NbdProtocol.CommandFlag;
import dev.converge.nbd.wire.NbdProtocol.Errno;
import dev.converge.nbd.wire.NbdProtocol.ReplyType;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TransmissionCodecTest {
    private static final HexFormat HEX = HexFormat.of();

    private static List<Request> sample() {
        return List.of(
                Request.read(1, 4096, 512),
                Request.write(2, 0, ByteBuffer.wrap("hello, nbd".getBytes()), Set.of(CommandFlag.FUA)),
                Request.of(Command.BLOCK_STATUS, Set.of(CommandFlag.REQ_ONE), 3, 0, 1 << 20),
                Request.write(4, 8, ByteBuffer.allocate(0), Set.of()),
                Request.of(Command.WRITE_ZEROES, Set.of(CommandFlag.NO_HOLE, CommandFlag.FAST_ZERO), 5, 0, 1 << 30),
                Request.disconnect(6));
    }

    @Test
    void requestBytes() {
        byte[] b = Feed.bytes(Request.of(Command.READ, Set.of(CommandFlag.DF), 0x0102030405060708L, 0x200, 0x1000)
                .encode());
        assertThat(HEX.formatHex(b)).isEqualTo("25609513" + "0004" + "0000" + "0102030405060708"
                + "0000000000000200" + "00001000");
    }

    @Test
    void requestsDecodeAtEverySplitPointAndByteByByte() throws Exception {
        List<Request> sent = sample();
        byte[] b = Feed.bytes(sent.stream().map(Request::encode).toArray(ByteBuffer[]::new));
        for (int cut = 0; cut <= b.length; cut++) {
            RequestDecoder d = new RequestDecoder();
            assertThat(Feed.cut(b, d::decode, cut)).as("cut at %d", cut).isEqualTo(sent);
        }
        RequestDecoder d = new RequestDecoder();
        assertThat(Feed.byteByByte(b, d::decode)).isEqualTo(sent);
    }

    @Test
    void headerAloneIsTheStartOfTheWholeRequest() {
        Request w = Request.write(7, 4096, ByteBuffer.wrap(new byte[] {1, 2, 3}), Set.of(CommandFlag.FUA));
        ByteBuffer whole = w.encode();
        assertThat(w.encodeHeader()).isEqualTo(whole.slice(0, NbdProtocol.REQUEST_HEADER_SIZE));
        assertThat(whole.remaining()).isEqualTo(NbdProtocol.REQUEST_HEADER_SIZE + 3);
    }

    @Test
    void partialHeaderIsNotConsumed() throws Exception {
        ByteBuffer in = Request.read(1, 0, 1).encode();
        in.limit(27);
        assertThat(new RequestDecoder().decode(in)).isNull();
        assertThat(in.position()).isZero();
    }

    @Test
    void oversizedWritePayloadIsSkippedNotAllocated() throws Exception {
        long len = NbdProtocol.MAX_BUFFER_SIZE + 1L;
        ByteBuffer header = new Request(0, 1, 9, 0, len, null).encode();
        RequestDecoder d = new RequestDecoder();
        assertThat(d.decode(header)).isNull();
        ByteBuffer chunk = ByteBuffer.allocate(1 << 20);
        long fed = 0;
        Request r = null;
        while (r == null) {
            chunk.clear().limit((int) Math.min(chunk.capacity(), len - fed));
            fed += chunk.remaining();
            r = d.decode(chunk);
            assertThat(chunk.hasRemaining()).isFalse();
        }
        assertThat(fed).isEqualTo(len);
        assertThat(r.payloadDropped()).isTrue();
        assertThat(r.cookie()).isEqualTo(9);
        // the next request decodes normally: the stream is still in step
        assertThat(d.decode(Request.read(10, 0, 1).encode())).isEqualTo(Request.read(10, 0, 1));
    }

    @Test
    void writePayloadGoesIntoTheAllocatedBufferWhichTheCallerMayFillDirectly() throws Exception {
        byte[] data = new byte[10_000];
        new java.util.Random(3).nextBytes(data);
        ByteBuffer wire = Request.write(5, 4096, ByteBuffer.wrap(data), Set.of()).encode();
        List<ByteBuffer> made = new java.util.ArrayList<>();
        RequestDecoder d = new RequestDecoder(len -> {
            ByteBuffer b = ByteBuffer.allocateDirect(len + 100).limit(len);
            made.add(b);
            return b;
        });
        assertThat(d.payloadInProgress()).isNull();
        ByteBuffer first = wire.slice(0, NbdProtocol.REQUEST_HEADER_SIZE + 1000);
        assertThat(d.decode(first)).isNull();
        assertThat(first.hasRemaining()).isFalse();
        ByteBuffer p = d.payloadInProgress();
        assertThat(made).containsExactly(p);
        assertThat(p.position()).isEqualTo(1000);
        // as the server does: the socket fills the payload itself, the decoder then completes the request
        p.put(wire.slice(NbdProtocol.REQUEST_HEADER_SIZE + 1000, data.length - 1000));
        Request r = d.decode(ByteBuffer.allocate(0));
        assertThat(r.cookie()).isEqualTo(5);
        assertThat(r.offset()).isEqualTo(4096);
        assertThat(r.payload()).isSameAs(p);
        assertThat(r.payload().position()).isZero();
        assertThat(r.payload()).isEqualTo(ByteBuffer.wrap(data));
        assertThat(d.payloadInProgress()).isNull();
    }

    @Test
    void oversizedWriteNeverReachesTheAllocator() throws Exception {
        RequestDecoder d = new RequestDecoder(len -> {
            throw new AssertionError("allocated " + len);
        });
        ByteBuffer header = new Request(0, 1, 9, 0, NbdProtocol.MAX_BUFFER_SIZE + 1L, null).encode();
        assertThat(d.decode(header)).isNull();
        assertThat(d.payloadInProgress()).isNull();
    }

    @Test
    void anAllocatorReturningAWronglySizedBufferIsABug() {
        RequestDecoder d = new RequestDecoder(len -> ByteBuffer.allocate(len + 1));
        assertThatThrownBy(() -> d.decode(Request.write(1, 0, ByteBuffer.allocate(8), Set.of()).encode()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("for 8 bytes");
    }

    @Test
    void badRequestMagicIsRejectedAndTheDecoderResets() throws Exception {
        RequestDecoder d = new RequestDecoder();
        byte[] bad = HEX.parseHex("25609514" + "0000" + "0000" + "0000000000000001" + "0000000000000000" + "00000001");
        assertThatThrownBy(() -> d.decode(ByteBuffer.wrap(bad))).isInstanceOf(NbdProtocolException.BadMagic.class)
                .hasMessage("request magic: 0x25609514 (expected: 0x25609513)");
        assertThat(d.decode(Request.read(1, 0, 1).encode())).isEqualTo(Request.read(1, 0, 1));
    }

    @Test
    void unknownCommandIsFramedAndRejectedByType() throws Exception {
        Request r = new RequestDecoder().decode(new Request(0, 42, 1, 0, 0, null).encode());
        assertThat(r.type()).isEqualTo(42);
        assertThatThrownBy(r::command).isInstanceOf(NbdProtocolException.UnknownCode.class);
    }

    private static List<Reply> replies() {
        return List.of(
                new SimpleReply(0, 1, ByteBuffer.wrap(new byte[] {1, 2, 3, 4})),
                SimpleReply.error(2, Errno.EPERM),
                StructuredChunk.data(3, 4096, ByteBuffer.wrap(new byte[] {9, 9}), false),
                StructuredChunk.hole(3, 4098, 1000, true),
                StructuredChunk.blockStatus(4, 0, List.of(Extent.data(4096), Extent.hole(8192)), false),
                StructuredChunk.blockStatus(4, 1, List.of(Extent.dirty(12288)), true),
                StructuredChunk.error(5, Errno.EINVAL, "operation past EOF", true),
                StructuredChunk.errorOffset(6, Errno.EIO, "bad sector", 512, true),
                StructuredChunk.none(7));
    }

    private static ByteBuffer encode(Reply r) {
        return switch (r) {
            case SimpleReply s -> {
                ByteBuffer h = s.encodeHeader();
                yield s.data() == null ? h : ByteBuffer.wrap(Feed.bytes(h, s.data()));
            }
            case StructuredChunk c -> c.encode();
        };
    }

    @Test
    void repliesDecodeAtEverySplitPoint() throws Exception {
        List<Reply> sent = replies();
        byte[] b = Feed.bytes(sent.stream().map(TransmissionCodecTest::encode).toArray(ByteBuffer[]::new));
        ReplyDecoder d = new ReplyDecoder(cookie -> cookie == 1 ? 4 : 0);
        for (int cut = 0; cut <= b.length; cut++) {
            assertThat(Feed.cut(b, d::decode, cut)).as("cut at %d", cut).isEqualTo(sent);
        }
        assertThat(Feed.byteByByte(b, d::decode)).isEqualTo(sent);
    }

    @Test
    void aViewingDecoderReturnsTheSameRepliesAsViewsOfItsInput() throws Exception {
        List<Reply> sent = replies();
        ByteBuffer in = ByteBuffer.allocateDirect(4096);
        for (Reply r : sent) {
            in.put(encode(r));
        }
        in.flip();
        ReplyDecoder d = ReplyDecoder.viewing(cookie -> cookie == 1 ? 4 : 0);
        List<Reply> got = new java.util.ArrayList<>();
        for (Reply r = d.decode(in); r != null; r = d.decode(in)) {
            got.add(r);
        }
        assertThat(got).isEqualTo(sent);
        assertThat(in.hasRemaining()).isFalse();
        // a view: overwriting the input shows through, and the view cannot write back
        SimpleReply first = (SimpleReply) got.getFirst();
        assertThat(first.data().isReadOnly()).isTrue();
        in.put(NbdProtocol.SIMPLE_REPLY_HEADER_SIZE, (byte) 42);
        assertThat(first.data().get(0)).isEqualTo((byte) 42);
        // the copying decoder's replies do not change with their input
        ByteBuffer again = encode(sent.getFirst());
        SimpleReply copied = (SimpleReply) new ReplyDecoder(cookie -> 4).decode(again);
        again.put(NbdProtocol.SIMPLE_REPLY_HEADER_SIZE, (byte) 42);
        assertThat(copied.data().get(0)).isEqualTo((byte) 1);
    }

    @Test
    void chunkAccessors() throws Exception {
        List<Reply> r = replies();
        StructuredChunk data = (StructuredChunk) r.get(2);
        assertThat(data.offset()).isEqualTo(4096);
        assertThat(data.data()).isEqualTo(ByteBuffer.wrap(new byte[] {9, 9}));
        StructuredChunk hole = (StructuredChunk) r.get(3);
        assertThat(hole.holeLength()).isEqualTo(1000);
        assertThat(hole.done()).isTrue();
        StructuredChunk bs = (StructuredChunk) r.get(4);
        assertThat(bs.contextId()).isZero();
        assertThat(bs.extents()).containsExactly(Extent.data(4096), Extent.hole(8192));
        StructuredChunk err = (StructuredChunk) r.get(7);
        assertThat(err.errno()).isEqualTo(5);
        assertThat(err.errorMessage()).isEqualTo("bad sector");
        assertThat(err.offset()).isEqualTo(512);
    }

    @Test
    void structuredChunkBytes() {
        byte[] b = Feed.bytes(StructuredChunk.hole(0x11, 0x200, 0x1000, true).encode());
        assertThat(HEX.formatHex(b)).isEqualTo("668e33ef" + "0001" + "0002" + "0000000000000011" + "0000000c"
                + "0000000000000200" + "00001000");
    }

    @Test
    void badRepliesAreRejected() {
        ReplyDecoder d = new ReplyDecoder(c -> 0);
        assertThatThrownBy(() -> d.decode(ByteBuffer.wrap(HEX.parseHex("deadbeef"))))
                .isInstanceOf(NbdProtocolException.BadMagic.class);
        byte[] unknownType = HEX.parseHex("668e33ef" + "0001" + "0003" + "0000000000000001" + "00000000");
        assertThatThrownBy(() -> d.decode(ByteBuffer.wrap(unknownType)))
                .isInstanceOf(NbdProtocolException.UnknownCode.class);
        byte[] tooLong = HEX.parseHex("668e33ef" + "0001" + "0001" + "0000000000000001" + "7fffffff");
        assertThatThrownBy(() -> d.decode(ByteBuffer.wrap(tooLong)))
                .isInstanceOf(NbdProtocolException.LimitExceeded.class);
        byte[] shortHole = HEX.parseHex("668e33ef" + "0001" + "0002" + "0000000000000001" + "00000004" + "00000000");
        assertThatThrownBy(() -> d.decode(ByteBuffer.wrap(shortHole)))
                .isInstanceOf(NbdProtocolException.Malformed.class).hasMessage("OFFSET_HOLE chunk length: 4 (expected: 12)");
        ReplyDecoder huge = new ReplyDecoder(c -> 1L << 31);
        assertThatThrownBy(() -> huge.decode(SimpleReply.ok(1).encodeHeader()))
                .isInstanceOf(NbdProtocolException.LimitExceeded.class);
        assertThat(ReplyType.ERROR.isError()).isTrue();
    }
}
