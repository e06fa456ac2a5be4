package dev.converge.migration.machine.kvm;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import org.junit.jupiter.api.Test;

class GuestPortsTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final SerialSink sink = new SerialSink() {
        @Override
        public void write(int b) {
            out.write(b);
        }

        @Override
        public void close() {
        }
    };

    @Test
    void serialBytesReachTheSinkAndTheLineIsAlwaysIdle() {
        GuestPorts p = new GuestPorts(64L << 20, sink);
        p.write(0x3f8, 'A');
        p.write(0x3f8, 0x142); // an out of a wider register: only the low byte
        assertThat(out.toByteArray()).containsExactly('A', 'B');
        assertThat(p.serialBytes()).isEqualTo(2);
        assertThat(p.read(0x3fd)).isEqualTo(0x60);
    }

    @Test
    void cmosHoldsTheRamSizeAsAPcBiosLeavesIt() {
        // 64 MiB: 63 MiB above 1 MiB = 64512 KiB = 0xfc00; 48 MiB above 16 MiB = 768 x 64 KiB = 0x0300
        GuestPorts p = new GuestPorts(64L << 20, sink);
        int[][] vectors = {{0x30, 0x00}, {0x31, 0xfc}, {0x17, 0x00}, {0x18, 0xfc}, {0x34, 0x00}, {0x35, 0x03}, {0x10, 0x00}};
        for (int[] v : vectors) {
            p.write(0x70, v[0] | 0x80); // bit 7 (NMI mask) is not part of the index
            assertThat(p.read(0x71)).as("CMOS 0x%x", v[0]).isEqualTo(v[1]);
        }
        // 2 GiB: the KiB count saturates at 0xffff; (2048 - 16) MiB = 32512 x 64 KiB = 0x7f00
        assertThat(GuestPorts.cmos(0x30, 2L << 30)).isEqualTo(0xff);
        assertThat(GuestPorts.cmos(0x31, 2L << 30)).isEqualTo(0xff);
        assertThat(GuestPorts.cmos(0x34, 2L << 30)).isEqualTo(0x00);
        assertThat(GuestPorts.cmos(0x35, 2L << 30)).isEqualTo(0x7f);
        // 8 MiB: nothing above 16 MiB
        assertThat(GuestPorts.cmos(0x35, 8L << 20)).isZero();
        assertThat(GuestPorts.cmos(0x31, 8L << 20)).isEqualTo(0x1c);
    }

    @Test
    void a20GateAndUnknownPorts() {
        GuestPorts p = new GuestPorts(64L << 20, sink);
        assertThat(p.read(0x92) & 2).isEqualTo(2);
        p.write(0x92, 0x03);
        assertThat(p.read(0x92)).as("bit 0 (reset) does not stick").isEqualTo(0x02);
        assertThat(p.read(0x1234)).isEqualTo(0xff);
        p.write(0x1234, 1);
        assertThat(out.size()).isZero();
    }
}
