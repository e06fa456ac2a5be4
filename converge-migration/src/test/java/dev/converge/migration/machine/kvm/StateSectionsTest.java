package dev.converge.migration.machine.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class StateSectionsTest {
    private static final String TWO = "02000000" + "02" + "7678" + "03000000" + "010203" + "01" + "7a" + "00000000";

    @Test
    void encodesToTheDocumentedBytes() {
        byte[] bytes = StateSections.encode(List.of(new StateSections.Section("vx", new byte[] {1, 2, 3}),
                new StateSections.Section("z", new byte[0])));
        assertThat(HexFormat.of().formatHex(bytes)).isEqualTo(TWO);
    }

    @Test
    void decodesWhatItEncodes() {
        List<StateSections.Section> s = StateSections.decode(ByteBuffer.wrap(HexFormat.of().parseHex(TWO)));
        assertThat(s).extracting(StateSections.Section::name).containsExactly("vx", "z");
        assertThat(s.get(0).data()).containsExactly(1, 2, 3);
        assertThat(s.get(1).data()).isEmpty();
    }

    @Test
    void truncatedOrTrailingBytesAreRefused() {
        byte[] ok = HexFormat.of().parseHex(TWO);
        for (int cut = 0; cut < ok.length; cut++) {
            byte[] part = java.util.Arrays.copyOf(ok, cut);
            assertThatThrownBy(() -> StateSections.decode(ByteBuffer.wrap(part))).hasMessageContaining("truncated");
        }
        byte[] longer = java.util.Arrays.copyOf(ok, ok.length + 1);
        assertThatThrownBy(() -> StateSections.decode(ByteBuffer.wrap(longer))).hasMessageContaining("1 bytes after the last section");
        assertThatThrownBy(() -> StateSections.decode(ByteBuffer.wrap(HexFormat.of().parseHex("ffffffff"))))
                .hasMessageContaining("section count 4294967295");
    }
}
