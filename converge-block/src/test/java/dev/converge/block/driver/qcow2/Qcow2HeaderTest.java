package dev.converge.block.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The header codec against byte vectors laid out by hand from qcow2.txt. */
class Qcow2HeaderTest {
    /** A v3 header as qemu-img 7.2 writes it for 1 MiB, 64 KiB clusters, with a backing format and file. */
    private static final String V3 = "514649fb" + "00000003" + "0000000000000088" + "00000008" + "00000010"
            + "0000000000100000" + "00000000" + "00000001" + "0000000000030000" + "0000000000010000" + "00000001"
            + "00000000" + "0000000000000000" + "0000000000000000" + "0000000000000001" + "0000000000000000"
            + "00000004" + "00000070" + "00" + "00000000000000"
            + "e2792aca" + "00000005" + "7163" + "6f77" + "32" + "000000" // "qcow2" padded
            + "00000000" + "00000000" + "626173652e696d67"; // end, then "base.img" at 0x88

    private static ByteBuffer bytes(String hex) {
        ByteBuffer b = ByteBuffer.allocate(65536);
        b.put(HexFormat.of().parseHex(hex));
        return b.flip().limit(65536);
    }

    @Test
    void parsesAV3HeaderWithExtensions() throws Exception {
        Qcow2Header h = Qcow2Header.parse(bytes(V3));
        assertThat(h.version()).isEqualTo(3);
        assertThat(h.clusterSize()).isEqualTo(65536);
        assertThat(h.size()).isEqualTo(1 << 20);
        assertThat(h.l1Size()).isEqualTo(1);
        assertThat(h.l1TableOffset()).isEqualTo(0x30000);
        assertThat(h.refcountTableOffset()).isEqualTo(0x10000);
        assertThat(h.lazyRefcounts()).isTrue();
        assertThat(h.refcountBits()).isEqualTo(16);
        assertThat(h.headerLength()).isEqualTo(112);
        assertThat(h.backingFormat()).contains("qcow2");
        assertThat(h.backingFile(bytes(V3))).contains("base.img");
        assertThat(h.extendedL2()).isFalse();
    }

    @Test
    void encodeThenParseIsTheIdentity() throws Exception {
        int nameAt = Qcow2Header.backingFileNameOffset(3, Optional.of("raw"));
        Qcow2Header h = Qcow2Header.fresh(3, 16, 5L << 30, 10, 0x30000, 0x10000, 1, true, true, 4, nameAt, 4,
                Optional.of("raw"));
        ByteBuffer enc = h.encode(Optional.of("b.im"));
        ByteBuffer cluster = ByteBuffer.allocate(65536).put(enc).flip().limit(65536);
        Qcow2Header back = Qcow2Header.parse(cluster);
        assertThat(back.withIncompatible(back.incompatibleFeatures())).usingRecursiveComparison()
                .ignoringFields("extensionsEnd").isEqualTo(h);
        assertThat(back.backingFile(cluster)).contains("b.im");
        assertThat(back.extendedL2()).isTrue();
    }

    @Test
    void refusesWhatItCannotRead() {
        assertThatThrownBy(() -> Qcow2Header.parse(bytes("00000000" + "0".repeat(200))))
                .hasMessage("Image is not in qcow2 format");
        assertThatThrownBy(() -> Qcow2Header.parse(bytes("514649fb00000004" + "0".repeat(200))))
                .hasMessage("Unsupported qcow2 version 4");
        assertThatThrownBy(() -> Qcow2Header.parse(bytes(V3.substring(0, 40) + "00000008" + V3.substring(48))))
                .hasMessage("Unsupported cluster size: 2^8");
    }

    @Test
    void compressedDescriptorsRoundTrip() {
        int bits = 16;
        long e = L2Entry.compressedEntry(0x123456789L, 3000, bits);
        assertThat(L2Entry.compressed(e)).isTrue();
        assertThat(L2Entry.compressedOffset(e, bits)).isEqualTo(0x123456789L);
        // the run ends at the end of the last 512-byte sector the data touches
        assertThat(L2Entry.compressedLength(e, bits)).isGreaterThanOrEqualTo(3000).isLessThan(3000 + 512);
        assertThat(L2Entry.kind(e, 0, false, 0)).isEqualTo(L2Entry.Kind.COMPRESSED);
        assertThat(L2Entry.kind(0x50000 | L2Entry.COPIED, 0, false, 0)).isEqualTo(L2Entry.Kind.NORMAL);
        assertThat(L2Entry.kind(L2Entry.ZERO, 0, false, 0)).isEqualTo(L2Entry.Kind.ZERO);
        assertThat(L2Entry.kind(0x50000, 0x1_0000_0002L, true, 1)).isEqualTo(L2Entry.Kind.NORMAL);
        assertThat(L2Entry.kind(0x50000, 0x1_0000_0002L, true, 0)).isEqualTo(L2Entry.Kind.ZERO);
        assertThat(L2Entry.kind(0x50000, 0x1_0000_0002L, true, 2)).isEqualTo(L2Entry.Kind.UNALLOCATED);
    }
}
