package dev.converge.block.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.block.driver.qcow2.Qcow2BitmapDirectory.Entry;
import dev.converge.block.driver.qcow2.Qcow2BitmapDirectory.Extension;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The bitmaps extension and directory codecs against byte vectors laid out by hand from qcow2.txt. */
class Qcow2BitmapDirectoryTest {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    void extensionVector() throws Exception {
        byte[] v = HEX.parseHex("00000002" + "00000000" + "0000000000000040" + "0000000000050000");
        Extension e = Extension.parse(ByteBuffer.wrap(v));
        assertThat(e).isEqualTo(new Extension(2, 0x40, 0x50000));
        assertThat(e.encode()).isEqualTo(v);
    }

    @Test
    void directoryVector() throws Exception {
        // entry 1: table at 0x30000, 1 entry, flags auto, type 1, 2^16, name "b1" (2 bytes), no extra: 24+2 -> 32
        // entry 2: table at 0x40000, 4 entries, flags in_use, type 1, 2^9, name "disk-0", 3 bytes extra: 24+3+6 -> 40
        String e1 = "0000000000030000" + "00000001" + "00000002" + "01" + "10" + "0002" + "00000000" + "6231"
                + "000000000000";
        String e2 = "0000000000040000" + "00000004" + "00000005" + "01" + "09" + "0006" + "00000003" + "aabbcc"
                + "6469736b2d30" + "0000000000000000".substring(0, 14);
        byte[] v = HEX.parseHex(e1 + e2);
        assertThat(v).hasSize(32 + 40);
        List<Entry> entries = Qcow2BitmapDirectory.parse(ByteBuffer.wrap(v), 2);
        assertThat(entries).hasSize(2);
        Entry a = entries.get(0);
        assertThat(a.name()).isEqualTo("b1");
        assertThat(a.auto()).isTrue();
        assertThat(a.inUse()).isFalse();
        assertThat(a.granularityBits()).isEqualTo(16);
        assertThat(a.tableOffset()).isEqualTo(0x30000);
        Entry b = entries.get(1);
        assertThat(b.name()).isEqualTo("disk-0");
        assertThat(b.inUse()).isTrue();
        assertThat(b.extraData()).isEqualTo(new byte[] {(byte) 0xaa, (byte) 0xbb, (byte) 0xcc});
        ByteBuffer again = Qcow2BitmapDirectory.encode(entries);
        byte[] out = new byte[again.remaining()];
        again.get(out);
        assertThat(out).isEqualTo(v);
    }

    @Test
    void brokenDirectoriesAreRefused() {
        byte[] e1 = HEX.parseHex("0000000000030000" + "00000001" + "00000002" + "01" + "10" + "0002" + "00000000"
                + "6231" + "000000000000");
        assertThatThrownBy(() -> Qcow2BitmapDirectory.parse(ByteBuffer.wrap(e1), 2))
                .hasMessage("Less bitmaps found than specified in header extension");
        assertThatThrownBy(() -> Qcow2BitmapDirectory.parse(ByteBuffer.wrap(e1, 0, 20), 1))
                .hasMessage("Broken bitmap directory");
        byte[] longName = e1.clone();
        longName[19] = 9; // name_size 9 runs past the end
        assertThatThrownBy(() -> Qcow2BitmapDirectory.parse(ByteBuffer.wrap(longName), 1))
                .hasMessage("Broken bitmap directory");
    }

    @Test
    void sizesFollowTheSpec() {
        // 16 MiB at 64 KiB: 256 bits = 32 bytes, one table entry
        assertThat(Qcow2BitmapDirectory.dataBytes(16 << 20, 65536)).isEqualTo(32);
        assertThat(Qcow2BitmapDirectory.tableSize(16 << 20, 65536, 65536)).isEqualTo(1);
        // 1 GiB at 512 bytes: 2^21 bits = 2^18 bytes = 4 clusters of 64 KiB
        assertThat(Qcow2BitmapDirectory.tableSize(1L << 30, 512, 65536)).isEqualTo(4);
        assertThat(Qcow2BitmapDirectory.entrySize(2, 0)).isEqualTo(32);
        assertThat(Qcow2BitmapDirectory.entrySize(8, 0)).isEqualTo(32);
        assertThat(Qcow2BitmapDirectory.entrySize(9, 0)).isEqualTo(40);
    }
}
