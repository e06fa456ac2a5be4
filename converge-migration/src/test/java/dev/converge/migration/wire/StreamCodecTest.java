package dev.converge.migration.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class StreamCodecTest {
    private static final HexFormat HEX = HexFormat.of();

    static ByteBuffer page(int fill) {
        byte[] b = new byte[WireFormat.PAGE_SIZE];
        Arrays.fill(b, (byte) fill);
        b[0] = (byte) (fill + 1);
        return ByteBuffer.wrap(b);
    }

    /** A complete small stream, as records. */
    static List<StreamRecord> sampleStream() {
        ByteBuffer batch = ByteBuffer.allocate(2 * WireFormat.PAGE_SIZE);
        batch.put(page(3)).put(page(4)).flip();
        return List.of(
                new StreamRecord.Header(WireFormat.VERSION_CURRENT),
                new StreamRecord.RamBlocks(List.of(new StreamRecord.BlockInfo("pc.ram", 64 * 4096),
                        new StreamRecord.BlockInfo("pc.rom", 4096))),
                new StreamRecord.Page(0, 4096, page(1)),
                new StreamRecord.ZeroPage(1, 0),
                new StreamRecord.PageBatch(0, new long[] {8192, 63 * 4096}, batch),
                new StreamRecord.EndOfPass(1),
                new StreamRecord.DeviceState(ByteBuffer.wrap(new byte[] {1, 2, 3})),
                new StreamRecord.Complete(),
                new StreamRecord.Start());
    }

    static byte[] encodeAll(List<StreamRecord> records) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (StreamRecord r : records) {
            ByteBuffer b = StreamEncoder.encode(r);
            byte[] a = new byte[b.remaining()];
            b.get(a);
            out.writeBytes(a);
        }
        return out.toByteArray();
    }

    /** Decodes everything, feeding the bytes in chunks at the given cut points into one growing buffer. */
    static List<StreamRecord> decodeInChunks(byte[] bytes, int[] cuts) throws WireFormatException {
        StreamDecoder d = new StreamDecoder();
        ByteBuffer buf = ByteBuffer.allocate(bytes.length);
        List<StreamRecord> out = new ArrayList<>();
        int from = 0;
        for (int i = 0; i <= cuts.length; i++) {
            int to = i < cuts.length ? cuts[i] : bytes.length;
            buf.put(bytes, from, to - from);
            from = to;
            buf.flip();
            StreamRecord r;
            while ((r = d.decode(buf)) != null) {
                out.add(copy(r));
            }
            buf.compact();
        }
        assertThat(buf.position()).as("bytes left undecoded").isZero();
        return out;
    }

    /** Decoded byte data is a view of the input buffer: copy it before the buffer is compacted. */
    static StreamRecord copy(StreamRecord r) {
        return switch (r) {
            case StreamRecord.Page p -> new StreamRecord.Page(p.block(), p.offset(), clone(p.data()));
            case StreamRecord.PageBatch b -> new StreamRecord.PageBatch(b.block(), b.offsets(), clone(b.data()));
            case StreamRecord.DeviceState s -> new StreamRecord.DeviceState(clone(s.data()));
            default -> r;
        };
    }

    static ByteBuffer clone(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return ByteBuffer.wrap(a);
    }

    @Test
    void headerAndSmallRecordsHaveTheDocumentedBytes() {
        assertThat(HEX.formatHex(bytes(StreamEncoder.encode(new StreamRecord.Header(2)))))
                .isEqualTo("43564d53" + "0200" + "0000");
        assertThat(HEX.formatHex(bytes(StreamEncoder.encode(new StreamRecord.ZeroPage(1, 0x2000)))))
                .isEqualTo("0300" + "0000" + "0c000000" + "01000000" + "0020000000000000");
        assertThat(HEX.formatHex(bytes(StreamEncoder.encode(new StreamRecord.EndOfPass(5)))))
                .isEqualTo("0500" + "0000" + "08000000" + "0500000000000000");
        assertThat(HEX.formatHex(bytes(StreamEncoder.encode(new StreamRecord.Complete()))))
                .isEqualTo("0700" + "0000" + "00000000");
        assertThat(HEX.formatHex(bytes(StreamEncoder.encode(new StreamRecord.RamBlocks(
                List.of(new StreamRecord.BlockInfo("ab", 0x1000)))))))
                .isEqualTo("0100" + "0000" + "10000000" + "0100" + "0000" + "0200" + "6162" + "0010000000000000");
        assertThat(HEX.formatHex(bytes(StreamEncoder.encode(new ReturnMessage.Error("no")))))
                .isEqualTo("0200" + "0000" + "02000000" + "6e6f");
        assertThat(HEX.formatHex(bytes(StreamEncoder.encode(new ReturnMessage.AckComplete()))))
                .isEqualTo("0100" + "0000" + "00000000");
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.get(a);
        return a;
    }

    /** {@link #sampleStream()} as a verified stream: the header's flag and the RAM digest in COMPLETE. */
    static List<StreamRecord> verifiedStream() {
        List<StreamRecord> records = new ArrayList<>(sampleStream());
        records.set(0, new StreamRecord.Header(WireFormat.VERSION_CURRENT, WireFormat.FLAG_VERIFIED));
        records.set(records.size() - 2, new StreamRecord.Complete("0123456789abcdef".repeat(4)));
        return records;
    }

    static byte[] encodeVerified(List<StreamRecord> records) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (StreamRecord r : records) {
            out.writeBytes(bytes(StreamEncoder.encode(r, true)));
        }
        return out.toByteArray();
    }

    @Test
    void verifiedStreamRoundTripsSplitAtEveryOffset() throws Exception {
        List<StreamRecord> records = verifiedStream();
        byte[] bytes = encodeVerified(records);
        for (int cut = 0; cut <= bytes.length; cut += 7) {
            assertThat(decodeInChunks(bytes, new int[] {cut})).as("split at %d", cut).isEqualTo(records);
        }
    }

    @Test
    void verifiedRecordsHaveTheDocumentedBytes() {
        // END_OF_PASS 5: length 8 + 4, then the CRC32C (Castagnoli) of the 8-byte record header and the payload.
        byte[] plain = HEX.parseHex("05000000" + "0c000000" + "0500000000000000");
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(plain);
        String trailer = HEX.formatHex(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) crc.getValue()).array());
        assertThat(HEX.formatHex(bytes(StreamEncoder.encode(new StreamRecord.EndOfPass(5), true))))
                .isEqualTo(HEX.formatHex(plain) + trailer);
        assertThat(HEX.formatHex(bytes(StreamEncoder.encode(
                new StreamRecord.Header(WireFormat.VERSION_CURRENT, WireFormat.FLAG_VERIFIED), true))))
                .isEqualTo("43564d53" + "0500" + "0100");
        assertThat(HEX.formatHex(bytes(StreamEncoder.encode(new StreamRecord.Complete("00".repeat(31) + "ff"), true))))
                .startsWith("0700" + "0000" + "24000000" + "00".repeat(31) + "ff");
    }

    @Test
    void everyFlippedBitOfAVerifiedStreamIsRefused() {
        byte[] bytes = encodeVerified(verifiedStream());
        // Past the stream header (its flags have no checksum: a flipped flag fails the next record's length or checksum).
        for (int i = WireFormat.STREAM_HEADER_SIZE; i < bytes.length; i += 13) {
            byte[] bad = bytes.clone();
            bad[i] ^= 0x10;
            assertThatThrownBy(() -> decodeInChunks(bad, new int[0])).as("bit flipped at %d", i)
                    .isInstanceOf(WireFormatException.class);
        }
        int data = 8 + 8 + 4; // a byte of the first page's data: header, PAGE's record header, block
        byte[] bad = bytes.clone();
        bad[encodeVerified(verifiedStream().subList(0, 2)).length + data + 100] ^= 1;
        assertThatThrownBy(() -> decodeInChunks(bad, new int[0])).isInstanceOf(ChecksumMismatchException.class)
                .hasMessageStartingWith("PAGE checksum mismatch: crc32c 0x");
    }

    @Test
    void unknownHeaderFlagsAndDigestlessCompleteAreRefused() {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(WireFormat.MAGIC)
                .putShort((short) WireFormat.VERSION_CURRENT).putShort((short) 0x0102).flip();
        assertThatThrownBy(() -> new StreamDecoder().decode(b)).hasMessage("header flags: 0x0102 (expected: bits of 0x0003)");
        List<StreamRecord> noDigest = new ArrayList<>(verifiedStream());
        noDigest.set(noDigest.size() - 2, new StreamRecord.Complete());
        assertThatThrownBy(() -> encodeVerified(noDigest)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> StreamEncoder.encode(new StreamRecord.Complete("ab"), true))
                .hasMessage("RAM digest: 'ab' (expected: 64 hex digits)");
    }

    @Test
    void roundTripInOneGo() throws Exception {
        List<StreamRecord> records = sampleStream();
        assertThat(decodeInChunks(encodeAll(records), new int[0])).isEqualTo(records);
    }

    @Test
    void roundTripSplitAtEveryOffset() throws Exception {
        List<StreamRecord> records = sampleStream();
        byte[] bytes = encodeAll(records);
        for (int cut = 0; cut <= bytes.length; cut++) {
            assertThat(decodeInChunks(bytes, new int[] {cut})).as("split at %d", cut).isEqualTo(records);
        }
    }

    @Test
    void roundTripByteByByte() throws Exception {
        List<StreamRecord> records = sampleStream();
        byte[] bytes = encodeAll(records);
        int[] cuts = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            cuts[i] = i;
        }
        assertThat(decodeInChunks(bytes, cuts)).isEqualTo(records);
    }

    @Test
    void partialRecordIsNotConsumed() throws Exception {
        byte[] bytes = encodeAll(sampleStream());
        StreamDecoder d = new StreamDecoder();
        ByteBuffer buf = ByteBuffer.wrap(bytes, 0, 8 + 20); // header + part of RAM_BLOCKS
        assertThat(d.decode(buf)).isEqualTo(new StreamRecord.Header(WireFormat.VERSION_CURRENT));
        int pos = buf.position();
        assertThat(d.decode(buf)).isNull();
        assertThat(buf.position()).isEqualTo(pos);
    }

    @Test
    void returnPathRoundTripsAtEverySplit() throws Exception {
        ByteBuffer a = StreamEncoder.encode(new ReturnMessage.Error("destination says \u00e9"));
        byte[] bytes = bytes(a);
        for (int cut = 0; cut < bytes.length; cut++) {
            ByteBuffer buf = ByteBuffer.wrap(bytes, 0, cut);
            assertThat(ReturnDecoder.decode(buf)).isNull();
            assertThat(buf.position()).isZero();
        }
        assertThat(ReturnDecoder.decode(ByteBuffer.wrap(bytes))).isEqualTo(new ReturnMessage.Error("destination says \u00e9"));
        assertThatThrownBy(() -> ReturnDecoder.decode(ByteBuffer.wrap(HEX.parseHex("0000000000000000"))))
                .hasMessage("return type: 0 (reserved) (expected: 1.." + (ReturnType.values().length - 1) + ")");
        assertThatThrownBy(() -> ReturnDecoder.decode(ByteBuffer.wrap(HEX.parseHex("0200000001040000"))))
                .hasMessage("ERROR length: 1025 (expected: 0..1024)");
    }

    @Test
    void badMagicIsRejected() {
        assertThatThrownBy(() -> new StreamDecoder().decode(ByteBuffer.wrap(HEX.parseHex("5156454d02000000"))))
                .isInstanceOf(WireFormatException.class)
                .hasMessage("magic: 0x4d455651 (expected: 0x534d5643)");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3, 6, 0xffff})
    void unsupportedVersionIsRejected(int version) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(WireFormat.MAGIC)
                .putShort((short) version).putShort((short) 0).flip();
        assertThatThrownBy(() -> new StreamDecoder().decode(b))
                .hasMessage("version: " + version + " (expected: 4..5)");
    }

    @Test
    void previousVersionIsReadAndAlsoEndsWithTheDecision() throws Exception {
        List<StreamRecord> v3 = new ArrayList<>(sampleStream());
        v3.set(0, new StreamRecord.Header(WireFormat.VERSION_PREVIOUS));
        StreamDecoder d = new StreamDecoder();
        ByteBuffer b = ByteBuffer.wrap(encodeAll(v3));
        for (int i = 0; i < v3.size(); i++) {
            assertThat(d.decode(b)).isEqualTo(v3.get(i));
        }
        assertThat(d.version()).isEqualTo(4);
        assertThat(d.isFinished()).isTrue();
    }

    @Test
    void passAckAndResumedHaveTheDocumentedBytesAndRoundTrip() throws Exception {
        String passAck = "0300" + "0000" + "08000000" + "0700000000000000";
        String resumed = "0400" + "0000" + "00000000";
        assertThat(HEX.formatHex(bytes(StreamEncoder.encode(new ReturnMessage.PassAck(7))))).isEqualTo(passAck);
        assertThat(HEX.formatHex(bytes(StreamEncoder.encode(new ReturnMessage.Resumed())))).isEqualTo(resumed);
        byte[] all = HEX.parseHex(passAck + resumed + passAck);
        // Every split point: the first part never yields a partial message, and nothing is lost.
        for (int split = 0; split <= all.length; split++) {
            ByteBuffer buf = ByteBuffer.allocate(all.length);
            List<ReturnMessage> got = new ArrayList<>();
            for (byte[] part : new byte[][] {java.util.Arrays.copyOf(all, split),
                    java.util.Arrays.copyOfRange(all, split, all.length)}) {
                buf.put(part).flip();
                for (ReturnMessage m; (m = ReturnDecoder.decode(buf)) != null;) {
                    got.add(m);
                }
                buf.compact();
            }
            assertThat(got).as("split at " + split).containsExactly(new ReturnMessage.PassAck(7), new ReturnMessage.Resumed(),
                    new ReturnMessage.PassAck(7));
        }
    }

    @Test
    void badPassAckAndResumedLengthsAreRejected() {
        assertThatThrownBy(() -> ReturnDecoder.decode(ByteBuffer.wrap(HEX.parseHex("0300000004000000" + "00000000"))))
                .isInstanceOf(WireFormatException.class).hasMessage("PASS_ACK length: 4 (expected: 8)");
        assertThatThrownBy(() -> ReturnDecoder.decode(ByteBuffer.wrap(HEX.parseHex("0400000001000000" + "00"))))
                .isInstanceOf(WireFormatException.class).hasMessage("RESUMED length: 1 (expected: 0)");
        int unknown = ReturnType.values().length;
        assertThatThrownBy(() -> ReturnDecoder.decode(ByteBuffer.wrap(HEX.parseHex(String.format("%02x", unknown)
                + "00000000000000")))).isInstanceOf(WireFormatException.class)
                .hasMessage("return type: " + unknown + " (unknown) (expected: 1.." + (unknown - 1) + ")");
    }

    @Test
    void currentVersionWaitsForTheDecisionAfterComplete() throws Exception {
        List<StreamRecord> records = sampleStream().subList(0, sampleStream().size() - 1);
        StreamDecoder d = new StreamDecoder();
        ByteBuffer b = ByteBuffer.wrap(encodeAll(records));
        for (int i = 0; i < records.size(); i++) {
            assertThat(d.decode(b)).isNotNull();
        }
        assertThat(d.isFinished()).as("START or ABORT still to come").isFalse();
        assertThat(d.decode(ByteBuffer.wrap(HEX.parseHex("0900000000000000")))).isEqualTo(new StreamRecord.Abort());
        assertThat(d.isFinished()).isTrue();
    }

    @Test
    void decisionOutOfPlaceIsRejected() throws Exception {
        assertRejected("0800000000000000", "record START before COMPLETE (expected: only after COMPLETE)");
        assertRejected("0900000000000000", "record ABORT before COMPLETE (expected: only after COMPLETE)");
        for (String[] c : new String[][] {
                {"0500000008000000" + "0100000000000000", "record END_OF_PASS after COMPLETE (expected: START or ABORT)"},
                {"0800000001000000" + "00", "START length: 1 (expected: 0)"}}) {
            StreamDecoder d = new StreamDecoder();
            ByteBuffer b = afterLayout("0700000000000000" + c[0]);
            d.decode(b);
            d.decode(b);
            assertThat(d.decode(b)).isEqualTo(new StreamRecord.Complete());
            assertThatThrownBy(() -> d.decode(b)).isInstanceOf(WireFormatException.class).hasMessage(c[1]);
        }
    }

    /** Header + RAM_BLOCKS (pc.ram 64 pages, pc.rom 1 page) followed by {@code hex}. */
    static ByteBuffer afterLayout(String hex) {
        byte[] head = encodeAll(sampleStream().subList(0, 2));
        byte[] tail = HEX.parseHex(hex);
        ByteBuffer b = ByteBuffer.allocate(head.length + tail.length);
        return b.put(head).put(tail).flip();
    }

    static void assertRejected(String hex, String message) throws Exception {
        StreamDecoder d = new StreamDecoder();
        ByteBuffer b = afterLayout(hex);
        d.decode(b);
        d.decode(b);
        int pos = b.position();
        assertThatThrownBy(() -> d.decode(b)).isInstanceOf(WireFormatException.class).hasMessage(message);
        assertThat(d.version()).as("decoder reset").isZero();
        assertThat(b.position()).isEqualTo(pos);
    }

    @Test
    void unknownAndReservedRecordTypesAreRejected() throws Exception {
        int unknown = RecordType.values().length;
        String range = " (expected: 1.." + (unknown - 1) + ")";
        assertRejected("0000000000000000", "record type: 0 (reserved)" + range);
        assertRejected(String.format("%02x", unknown) + "00000000000000", "record type: " + unknown + " (unknown)" + range);
        assertRejected("ffff000000000000", "record type: 65535 (unknown)" + range);
    }

    @Test
    void nonZeroReservedFieldIsRejected() throws Exception {
        assertRejected("0700010000000000", "COMPLETE reserved: 1 (expected: 0)");
    }

    @Test
    void lengthsAreCheckedAgainstMaximumsBeforeTheBytesArrive() throws Exception {
        // Only the 8-byte record header is there: the bound is checked before waiting for the payload.
        assertRejected("06000000" + "01001000", "DEVICE_STATE length: 1048577 (expected: 0..1048576)");
        assertRejected("02000000" + "ffffffff", "PAGE length: 4294967295 (expected: 4108)");
        assertRejected("04000000" + "10a00400", "PAGE_BATCH length: 303120 (expected: 4112..262664)");
        assertRejected("07000000" + "01000000", "COMPLETE length: 1 (expected: 0)");
    }

    @Test
    void pageIndexesAndOffsetsAreCheckedAgainstTheDeclaredLayout() throws Exception {
        assertRejected("030000000c000000" + "02000000" + "0000000000000000", "block index: 2 (expected: 0..1)");
        assertRejected("030000000c000000" + "ffffffff" + "0000000000000000", "block index: 4294967295 (expected: 0..1)");
        assertRejected("030000000c000000" + "01000000" + "0010000000000000",
                "page offset in block 'pc.rom': 4096 (expected: a multiple of 4096 in 0..0)");
        assertRejected("030000000c000000" + "00000000" + "0100000000000000",
                "page offset in block 'pc.ram': 1 (expected: a multiple of 4096 in 0..258048)");
        assertRejected("030000000c000000" + "00000000" + "00000000000000f0",
                "page offset in block 'pc.ram': -1152921504606846976 (expected: a multiple of 4096 in 0..258048)");
    }

    @Test
    void batchCountMustMatchLength() throws Exception {
        String head = "04000000" + "10100000" + "00000000" + "02000000"; // length for 1 page, count 2
        assertRejected(head + "00".repeat(0x1010 - 8), "PAGE_BATCH length: 4112 (expected: 8216 for 2 pages)");
        assertRejected("04000000" + "10100000" + "00000000" + "00000000" + "00".repeat(0x1010 - 8),
                "batch pages: 0 (expected: 1..64)");
    }

    @Test
    void recordsBeforeLayoutAndSecondLayoutAreRejected() throws Exception {
        StreamDecoder d = new StreamDecoder();
        ByteBuffer b = ByteBuffer.wrap(encodeAll(List.of(new StreamRecord.Header(WireFormat.VERSION_PREVIOUS), new StreamRecord.Complete())));
        d.decode(b);
        assertThatThrownBy(() -> d.decode(b)).hasMessage("record COMPLETE before RAM_BLOCKS (expected: RAM_BLOCKS first)");

        List<StreamRecord> twice = new ArrayList<>(sampleStream().subList(0, 2));
        twice.add(twice.get(1));
        assertThatThrownBy(() -> decodeInChunks(encodeAll(twice), new int[0]))
                .hasMessage("record RAM_BLOCKS: a second layout (expected: once per stream)");
    }

    @Test
    void badLayoutsAreRejected() {
        assertLayoutRejected("0000" + "0000", "RAM block count: 0 (expected: 1..32)");
        assertLayoutRejected("2100" + "0000", "RAM block count: 33 (expected: 1..32)");
        assertLayoutRejected("0100" + "0000" + "0000" + "0010000000000000", "RAM block 0 name length: 0 (expected: 1..64)");
        assertLayoutRejected("0100" + "0000" + "0100" + "61" + "0110000000000000",
                "RAM block 'a' size: 4097 (expected: a multiple of 4096 in 4096..1099511627776)");
        assertLayoutRejected("0200" + "0000" + "0100" + "61" + "0010000000000000" + "0100" + "61" + "0010000000000000",
                "RAM block name: 'a' twice (expected: unique names)");
        assertLayoutRejected("0100" + "0000" + "0100" + "ff" + "0010000000000000",
                "RAM block 0 name: not UTF-8 (expected: UTF-8)");
        assertLayoutRejected("0100" + "0000" + "0100" + "61" + "0010000000000000" + "00",
                "RAM_BLOCKS length: 16 (expected: 15)");
        assertLayoutRejected("0200" + "0000" + "0100" + "61" + "0010000000000000",
                "RAM_BLOCKS length: 15 (expected: room for 2 blocks)");
    }

    static void assertLayoutRejected(String payloadHex, String message) {
        byte[] payload = HEX.parseHex(payloadHex);
        ByteBuffer b = ByteBuffer.allocate(16 + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        StreamEncoder.putHeader(b, WireFormat.VERSION_PREVIOUS);
        StreamEncoder.putRecordHeader(b, RecordType.RAM_BLOCKS, payload.length);
        b.put(payload).flip();
        StreamDecoder d = new StreamDecoder();
        assertThatThrownBy(() -> {
            d.decode(b);
            d.decode(b);
        }).isInstanceOf(WireFormatException.class).hasMessage(message);
    }

    @Test
    void bytesAfterCompleteAreRejected() throws Exception {
        byte[] bytes = encodeAll(sampleStream());
        ByteBuffer b = ByteBuffer.allocate(bytes.length + 1).put(bytes).put((byte) 7).flip();
        StreamDecoder d = new StreamDecoder();
        for (int i = 0; i < sampleStream().size(); i++) {
            assertThat(d.decode(b)).isNotNull();
        }
        assertThat(d.isFinished()).isTrue();
        assertThatThrownBy(() -> d.decode(b)).hasMessage("bytes after the end of the stream: 1 (expected: 0)");
    }

    @Test
    void truncatedStreamNeverYieldsAPartialRecord() throws Exception {
        byte[] bytes = encodeAll(sampleStream());
        for (int len = 0; len < bytes.length; len++) {
            StreamDecoder d = new StreamDecoder();
            ByteBuffer b = ByteBuffer.wrap(bytes, 0, len);
            int n = 0;
            while (d.decode(b) != null) {
                n++;
            }
            assertThat(n).as("records from %d bytes", len).isLessThan(sampleStream().size());
            assertThat(d.isFinished()).isFalse();
        }
    }

    @Test
    void encoderRefusesWhatTheDecoderWouldRefuse() {
        assertThatThrownBy(() -> StreamEncoder.encode(new StreamRecord.Page(0, 0, ByteBuffer.allocate(10))))
                .hasMessage("page data: 10 bytes (expected: 4096)");
        assertThatThrownBy(() -> StreamEncoder.encode(new StreamRecord.RamBlocks(
                List.of(new StreamRecord.BlockInfo("x".repeat(65), 4096)))))
                .hasMessage("RAM block name length: 65 (expected: 1..64)");
        assertThatThrownBy(() -> StreamEncoder.encode(new StreamRecord.DeviceState(ByteBuffer.allocate(WireFormat.MAX_DEVICE_STATE + 1))))
                .hasMessage("device state: 1048577 bytes (expected: <= 1048576)");
    }
}
