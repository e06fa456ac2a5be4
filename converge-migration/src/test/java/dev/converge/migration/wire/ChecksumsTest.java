package dev.converge.migration.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class ChecksumsTest {
    private static int crc(byte[]... parts) {
        CRC32C c = new CRC32C();
        for (byte[] p : parts) {
            c.update(p);
        }
        return (int) c.getValue();
    }

    @Test
    void appendingAPageCrcEqualsTheCrcOfBothTogether() {
        Random r = new Random(15);
        for (int len : new int[] {0, 1, 17, 24, 4096, 4096 + 12, 65536 + 3}) {
            byte[] a = new byte[len];
            byte[] page = new byte[WireFormat.PAGE_SIZE];
            r.nextBytes(a);
            r.nextBytes(page);
            assertThat(Checksums.appendPage(crc(a), crc(page))).as("prefix of %d bytes", len).isEqualTo(crc(a, page));
        }
        byte[] zeros = new byte[WireFormat.PAGE_SIZE];
        byte[] ones = new byte[WireFormat.PAGE_SIZE];
        java.util.Arrays.fill(ones, (byte) 0xff);
        assertThat(Checksums.appendPage(crc(ones), crc(zeros))).isEqualTo(crc(ones, zeros));
        // The check value of CRC32C ("123456789" → 0xe3069283) followed by a page of zeros.
        byte[] check = "123456789".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        assertThat(crc(check)).isEqualTo(0xe3069283);
        assertThat(Checksums.appendPage(0xe3069283, crc(zeros))).isEqualTo(crc(check, zeros));
    }

    @Test
    void powersOfXModuloThePolynomialMatchTheShiftingRegister() {
        assertThat(Checksums.powerOfX(0)).isEqualTo(1 << 31);
        assertThat(Checksums.powerOfX(1)).isEqualTo(1 << 30);
        assertThat(Checksums.powerOfX(31)).isEqualTo(1);
        assertThat(Checksums.powerOfX(32)).as("x^32 is the polynomial's lower terms").isEqualTo(0x82F63B78);
        for (long n : new long[] {33, 100, 8 * 4096, 8 * 4096 + 5}) {
            int r = 1 << 31;
            for (long i = 0; i < n; i++) {
                r = (r >>> 1) ^ (0x82F63B78 & -(r & 1)); // one step of the bare register: times x
            }
            assertThat(Checksums.powerOfX(n)).as("x^%d", n).isEqualTo(r);
        }
    }

    @Test
    void aBatchTrailerIsCheckedFromThePageCrcsAndTheyAreReturned() throws Exception {
        Random r = new Random(16);
        byte[] head = new byte[40];
        byte[][] pages = new byte[3][WireFormat.PAGE_SIZE];
        r.nextBytes(head);
        for (byte[] p : pages) {
            r.nextBytes(p);
        }
        ByteBuffer in = ByteBuffer.allocate(head.length + 3 * WireFormat.PAGE_SIZE + 4).order(WireFormat.ORDER);
        in.put(head);
        for (byte[] p : pages) {
            in.put(p);
        }
        in.putInt(crc(head, pages[0], pages[1], pages[2]));
        int[] crcs = Checksums.checkBatchTrailer(in, 0, head.length, 3, "PAGE_BATCH");
        assertThat(crcs).containsExactly(crc(pages[0]), crc(pages[1]), crc(pages[2]));

        in.put(head.length + WireFormat.PAGE_SIZE + 7, (byte) (in.get(head.length + WireFormat.PAGE_SIZE + 7) ^ 1));
        assertThatThrownBy(() -> Checksums.checkBatchTrailer(in, 0, head.length, 3, "PAGE_BATCH"))
                .isInstanceOf(ChecksumMismatchException.class).hasMessageContaining("PAGE_BATCH checksum mismatch");
    }
}
