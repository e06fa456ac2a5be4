package dev.converge.migration.file;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.migration.machine.GuestRam;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class FileHeaderTest {
    private static final List<GuestRam.BlockInfo> LAYOUT = List.of(new GuestRam.BlockInfo("pc.ram", 1 << 20),
            new GuestRam.BlockInfo("pc.rom", 128 << 10));

    private static FileHeader header() {
        byte[] digest = new byte[32];
        digest[0] = (byte) 0xab;
        return new FileHeader(FileHeader.MAPPED_RAM | FileHeader.DIGEST, (1 << 20) + (128 << 10), 4096, 48,
                1 << 20, (1 << 20) + (128 << 10), (2 << 20) + (128 << 10), 40, 0x12345678, LAYOUT, digest);
    }

    @Test
    void encodesTheDocumentedLayout() {
        ByteBuffer b = header().encode().order(ByteOrder.LITTLE_ENDIAN);
        assertThat(b.remaining()).isEqualTo(4096);
        assertThat(HexFormat.of().formatHex(b.array(), 0, 16)).isEqualTo("43564d4601000000" + "0300000000100000");
        assertThat(b.getLong(16)).isEqualTo((1 << 20) + (128 << 10));
        assertThat(b.getLong(24)).isEqualTo(4096);
        assertThat(b.getLong(40)).isEqualTo(1 << 20);
        assertThat(b.getInt(72)).isEqualTo(0x12345678);
        assertThat(b.getInt(76)).isEqualTo(2);
        assertThat(b.get(80)).isEqualTo((byte) 0xab);
        assertThat(b.getShort(112)).isEqualTo((short) 6);
        assertThat(new String(b.array(), 114, 6)).isEqualTo("pc.ram");
        assertThat(b.getLong(120)).isEqualTo(1 << 20);
        assertThat(b.getInt(4092)).isEqualTo(FileHeader.crc(b.array(), 4092));
    }

    @Test
    void decodesWhatItEncodes() throws Exception {
        FileHeader h = FileHeader.decode(header().encode());
        assertThat(h.layout()).isEqualTo(LAYOUT);
        assertThat(h.mappedRam()).isTrue();
        assertThat(h.hasDigest()).isTrue();
        assertThat(h.digest()).isEqualTo(header().digest());
        assertThat(h.end()).isEqualTo((2 << 20) + (128 << 10) + 40);
    }

    @Test
    void refusesWhatIsNotAnIntactHeader() {
        ByteBuffer b = header().encode();
        b.put(200, (byte) 1);
        assertThatThrownBy(() -> FileHeader.decode(b)).hasMessage("its header checksum does not match (the file is corrupt)");
        ByteBuffer other = ByteBuffer.allocate(4096);
        other.put(0, (byte) 'Q');
        assertThatThrownBy(() -> FileHeader.decode(other)).hasMessage("it is not a converge migration file (no CVMF header)");
        assertThatThrownBy(() -> FileHeader.decode(ByteBuffer.allocate(10))).hasMessage("it is shorter than a header (10 bytes)");
    }
}
