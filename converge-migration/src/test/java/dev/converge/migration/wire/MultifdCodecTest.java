package dev.converge.migration.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.migration.multifd.PageCodecs;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The multifd channel format and MULTIFD_SETUP as byte vectors, both directions, and what the decoder refuses. */
class MultifdCodecTest {
    private static final HexFormat HEX = HexFormat.of();
    private static final List<StreamRecord.BlockInfo> LAYOUT = List.of(new StreamRecord.BlockInfo("pc.ram", 1 << 20));

    private static String hex(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return HEX.formatHex(a);
    }

    private static ByteBuffer bytes(String hex) {
        return ByteBuffer.wrap(HEX.parseHex(hex.replace(" ", "")));
    }

    private static MultifdDecoder decoderAfterHello(boolean verified) throws WireFormatException {
        MultifdDecoder d = new MultifdDecoder(LAYOUT, MultifdCompression.NONE);
        d.decode(MultifdEncoder.encode(new MultifdRecord.Hello(5, verified ? 1 : 0, 0, 2, 42), false));
        return d;
    }

    @Test
    void helloVector() throws WireFormatException {
        MultifdRecord.Hello h = new MultifdRecord.Hello(5, 1, 1, 2, 0x0102030405060708L);
        String wire = "43564d46 0500 0100 0100 0200 00000000 0807060504030201".replace(" ", "");
        assertThat(hex(MultifdEncoder.encode(h, true))).isEqualTo(wire);
        assertThat(new MultifdDecoder(LAYOUT, MultifdCompression.NONE).decode(bytes(wire))).isEqualTo(h);
    }

    @Test
    void syncVector() throws WireFormatException {
        String wire = "0200 0000 08000000 0700000000000000".replace(" ", "");
        assertThat(hex(MultifdEncoder.encode(new MultifdRecord.Sync(7), false))).isEqualTo(wire);
        assertThat(decoderAfterHello(false).decode(bytes(wire))).isEqualTo(new MultifdRecord.Sync(7));
    }

    @Test
    void pagesVector() throws WireFormatException {
        byte[] data = new byte[4096];
        Arrays.fill(data, (byte) 0xab);
        MultifdRecord.Pages p = new MultifdRecord.Pages(0, new long[] {0x1000}, new long[] {0x3000}, MultifdCompression.NONE,
                ByteBuffer.wrap(data));
        String head = "0100 0000 20100000" // PAGES, length 16 + 2 × 8 + 4096
                + "00000000 0100 0100 00 00 0000 00100000" // block 0, 1 normal, 1 zero, none, 4096 bytes
                + "0010000000000000 0030000000000000";
        String wire = (head + "ab".repeat(4096)).replace(" ", "");
        assertThat(hex(MultifdEncoder.encode(p, false))).isEqualTo(wire);
        ByteBuffer in = bytes(wire);
        assertThat(decoderAfterHello(false).decode(in)).isEqualTo(p);
        assertThat(in.hasRemaining()).isFalse();
    }

    @Test
    void setupVectorOnTheMainStream() throws WireFormatException {
        StreamRecord.MultifdSetup s = new StreamRecord.MultifdSetup(4, MultifdCompression.ZSTD, 0x1122334455667788L);
        String wire = "0f00 0000 10000000 0400 02 00 00000000 8877665544332211".replace(" ", "");
        assertThat(hex(StreamEncoder.encode(s, false))).isEqualTo(wire);
        StreamDecoder d = new StreamDecoder();
        ByteBuffer in = ByteBuffer.allocate(4096);
        StreamEncoder.putHeader(in, 5);
        in.put(StreamEncoder.encode(new StreamRecord.RamBlocks(LAYOUT))).put(bytes(wire)).flip();
        d.decode(in);
        d.decode(in);
        assertThat(d.decode(in)).isEqualTo(s);
    }

    @Test
    void setupOnlyRightAfterTheLayout() throws WireFormatException {
        StreamDecoder d = new StreamDecoder();
        ByteBuffer in = ByteBuffer.allocate(4096);
        StreamEncoder.putHeader(in, 5);
        in.put(StreamEncoder.encode(new StreamRecord.RamBlocks(LAYOUT))).put(StreamEncoder.encode(new StreamRecord.EndOfPass(1)))
                .put(StreamEncoder.encode(new StreamRecord.MultifdSetup(2, MultifdCompression.NONE, 1))).flip();
        d.decode(in);
        d.decode(in);
        d.decode(in);
        assertThatThrownBy(() -> d.decode(in)).isInstanceOf(WireFormatException.class)
                .hasMessageContaining("MULTIFD_SETUP not right after RAM_BLOCKS");
    }

    @Test
    void verifiedRecordsRoundTripAndACorruptOneIsRefused() throws WireFormatException {
        MultifdRecord.Pages p = new MultifdRecord.Pages(0, new long[0], new long[] {0, 0x2000}, MultifdCompression.NONE,
                ByteBuffer.allocate(0));
        ByteBuffer in = MultifdEncoder.encode(p, true);
        assertThat(decoderAfterHello(true).decode(in.duplicate())).isEqualTo(p);
        in.put(in.limit() - 1, (byte) (in.get(in.limit() - 1) ^ 1));
        assertThatThrownBy(() -> decoderAfterHello(true).decode(in)).isInstanceOf(ChecksumMismatchException.class)
                .hasMessageContaining("multifd PAGES checksum mismatch");
    }

    @Test
    void aPartialRecordIsNotConsumed() throws WireFormatException {
        ByteBuffer whole = MultifdEncoder.encode(new MultifdRecord.Sync(1), false);
        ByteBuffer part = whole.duplicate().limit(whole.limit() - 1);
        MultifdDecoder d = decoderAfterHello(false);
        assertThat(d.decode(part)).isNull();
        assertThat(part.position()).isZero();
        assertThat(new MultifdDecoder(LAYOUT, MultifdCompression.NONE).decode(bytes("43564d46"))).isNull();
    }

    @Test
    void refusesWhatBreaksTheFormat() throws WireFormatException {
        MultifdDecoder fresh = new MultifdDecoder(LAYOUT, MultifdCompression.NONE);
        assertThatThrownBy(() -> fresh.decode(bytes("474152424147452121212121212121212121212121212121")))
                .hasMessageContaining("multifd channel magic: 0x42524147 (expected: 0x464d5643)");
        assertThatThrownBy(() -> new MultifdDecoder(LAYOUT, MultifdCompression.NONE)
                .decode(bytes("43564d46 0500 0000 0200 0200 00000000 0000000000000000".replace(" ", ""))))
                .hasMessageContaining("multifd channel: 2 (expected: 0..1)");
        assertThatThrownBy(() -> new MultifdDecoder(LAYOUT, MultifdCompression.NONE)
                .decode(bytes("43564d46 0900 0000 0000 0200 00000000 0000000000000000".replace(" ", ""))))
                .hasMessageContaining("multifd channel version: 9");
        assertThatThrownBy(() -> decoderAfterHello(false).decode(bytes("0300 0000 08000000 0100000000000000".replace(" ", ""))))
                .hasMessageContaining("multifd record type: 3");
        // A page outside the layout (1 MiB block), a compression other than declared, a data length that does not fit.
        assertThatThrownBy(() -> decoderAfterHello(false).decode(MultifdEncoder.encode(new MultifdRecord.Pages(0,
                new long[0], new long[] {1 << 20}, MultifdCompression.NONE, ByteBuffer.allocate(0)), false)))
                .hasMessageContaining("page offset in block 'pc.ram': 1048576");
        assertThatThrownBy(() -> decoderAfterHello(false).decode(MultifdEncoder.encode(new MultifdRecord.Pages(1,
                new long[0], new long[] {0}, MultifdCompression.NONE, ByteBuffer.allocate(0)), false)))
                .hasMessageContaining("block index: 1 (expected: 0..0)");
        assertThatThrownBy(() -> decoderAfterHello(false).decode(MultifdEncoder.encode(new MultifdRecord.Pages(0,
                new long[] {0}, new long[0], MultifdCompression.ZLIB, ByteBuffer.allocate(10)), false)))
                .hasMessageContaining("multifd compression: zlib (expected: none");
        ByteBuffer shortData = bytes(("0100 0000 18000000 00000000 0100 0000 00 00 0000 00100000 0000000000000000").replace(" ", ""));
        assertThatThrownBy(() -> decoderAfterHello(false).decode(shortData))
                .hasMessageContaining("multifd PAGES length: 24 (expected: 4120");
        MultifdDecoder d = decoderAfterHello(false);
        d.decode(MultifdEncoder.encode(new MultifdRecord.Sync(3), false));
        assertThatThrownBy(() -> d.decode(MultifdEncoder.encode(new MultifdRecord.Sync(3), false)))
                .hasMessageContaining("multifd SYNC pass: 3 (expected: above 3)");
    }

    @ParameterizedTest
    @EnumSource(value = MultifdCompression.class, names = {"ZLIB", "ZSTD"})
    void compressedPagesRoundTripAndCorruptDataIsRefused(MultifdCompression c) throws WireFormatException {
        ByteBuffer pages = ByteBuffer.allocateDirect(3 * 4096);
        for (int i = 0; i < pages.capacity(); i++) {
            pages.put(i, (byte) (i % 7 == 0 ? i / 7 : 0));
        }
        ByteBuffer out = ByteBuffer.allocateDirect((int) WireFormat.maxMultifdData(3));
        ByteBuffer back = ByteBuffer.allocateDirect(3 * 4096);
        PageCodecs.roundTrip(c, pages, out, back);
        assertThat(back.flip()).isEqualTo(pages.clear());
        ByteBuffer corrupt = ByteBuffer.allocateDirect(out.remaining());
        corrupt.put(out.duplicate()).flip();
        corrupt.put(corrupt.limit() / 2, (byte) (corrupt.get(corrupt.limit() / 2) ^ 0x55));
        corrupt.put(0, (byte) 0x13);
        assertThatThrownBy(() -> PageCodecs.decompress(c, corrupt, ByteBuffer.allocateDirect(3 * 4096)))
                .isInstanceOf(WireFormatException.class).hasMessageContaining("multifd " + c.wireName() + " data");
    }
}
