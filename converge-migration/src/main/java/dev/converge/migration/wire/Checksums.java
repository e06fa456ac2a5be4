package dev.converge.migration.wire;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * CRC32C of stream bytes, as the verified stream's trailers use it. {@link CRC32C} is an
 * intrinsic on x86 (SSE 4.2) and ARM (CRC32 instructions): several GB/s per core, well above
 * the stream's rate.
 */
public final class Checksums {
    private Checksums() {
    }

    /**
     * Checks a verified record's trailer: the CRC32C of {@code in}'s bytes [recordStart,
     * trailerAt) against the u32 (little-endian) at {@code trailerAt}.
     *
     * @param what the record's name for the error, e.g. "PAGE_BATCH"
     * @throws ChecksumMismatchException naming both CRCs when they differ
     */
    static void checkTrailer(ByteBuffer in, int recordStart, int trailerAt, String what) throws ChecksumMismatchException {
        int actual = crc32c(in, recordStart, trailerAt);
        int expected = in.getInt(trailerAt);
        if (actual != expected) {
            throw new ChecksumMismatchException(String.format(
                    "%s checksum mismatch: crc32c 0x%08x of the bytes received (expected: 0x%08x, the sender's)",
                    what, actual, expected));
        }
    }

    /**
     * Checks a verified PAGE_BATCH's trailer from the CRC32C of its part before the pages and of
     * each page, and returns the pages' CRC32Cs: the receiver records them in its page table
     * instead of reading every page a second time. {@code in}'s bytes [recordStart, dataAt) are
     * the record's header, batch head and offsets, then {@code pages} pages, then the trailer.
     *
     * @throws ChecksumMismatchException as {@link #checkTrailer}
     */
    static int[] checkBatchTrailer(ByteBuffer in, int recordStart, int dataAt, int pages, String what)
            throws ChecksumMismatchException {
        int[] crcs = new int[pages];
        int actual = crc32c(in, recordStart, dataAt);
        CRC32C crc = new CRC32C();
        ByteBuffer view = in.duplicate();
        for (int i = 0; i < pages; i++) {
            int at = dataAt + i * WireFormat.PAGE_SIZE;
            crc.reset();
            crc.update(view.limit(at + WireFormat.PAGE_SIZE).position(at));
            crcs[i] = (int) crc.getValue();
            actual = appendPage(actual, crcs[i]);
        }
        int trailerAt = dataAt + pages * WireFormat.PAGE_SIZE;
        int expected = in.getInt(trailerAt);
        if (actual != expected) {
            throw new ChecksumMismatchException(String.format(
                    "%s checksum mismatch: crc32c 0x%08x of the bytes received (expected: 0x%08x, the sender's)",
                    what, actual, expected));
        }
        return crcs;
    }

    /**
     * The CRC32C of {@code A || P} from {@code crcA}, the CRC32C of any bytes A, and {@code crcP},
     * the CRC32C of one page P of {@link WireFormat#PAGE_SIZE} bytes: the sender seals a batch with
     * it from the page CRCs it records anyway, and the receiver checks one the same way, so each
     * page is read for its CRC once per side, not twice.
     * <p>
     * Why it holds: without its initial value and final inversion a CRC is linear over GF(2), and
     * appending n bytes multiplies A's remainder by x^(8n) modulo the polynomial; the initial value
     * and the final inversion of A's and P's CRCs cancel out in the XOR. Multiplying by the fixed
     * x^(8·PAGE_SIZE) is itself linear in the 32 bits of {@code crcA}, so it is four table lookups
     * ({@link #PAGE_SHIFT}, built once from x^(8·PAGE_SIZE) modulo the polynomial).
     */
    public static int appendPage(int crcA, int crcP) {
        return PAGE_SHIFT[0][crcA & 0xff] ^ PAGE_SHIFT[1][(crcA >>> 8) & 0xff] ^ PAGE_SHIFT[2][(crcA >>> 16) & 0xff]
                ^ PAGE_SHIFT[3][crcA >>> 24] ^ crcP;
    }

    /** CRC32C's polynomial, bit-reversed (as the register shifts right). */
    private static final int CASTAGNOLI_REFLECTED = 0x82F63B78;

    /** [byte k][value v]: the bare register holding v in its byte k, after a page of zeros. */
    private static final int[][] PAGE_SHIFT = pageShiftTables();

    /**
     * Built from x^(8·PAGE_SIZE) modulo the polynomial, found by squaring (a few thousand steps):
     * running the register over a page of zeros from each of the 32 bits, a million steps, took
     * 15-120 ms of interpreted class initialisation at the start of every migration, on both sides.
     */
    private static int[][] pageShiftTables() {
        int shift = powerOfX(8L * WireFormat.PAGE_SIZE);
        int[] bit = new int[32];
        for (int b = 0; b < 32; b++) {
            bit[b] = multiplyModP(1 << b, shift);
        }
        int[][] t = new int[4][256];
        for (int k = 0; k < 4; k++) {
            for (int v = 0; v < 256; v++) {
                int r = 0;
                for (int i = 0; i < 8; i++) {
                    if ((v & (1 << i)) != 0) {
                        r ^= bit[8 * k + i];
                    }
                }
                t[k][v] = r;
            }
        }
        return t;
    }

    /** x^n modulo the polynomial, in the register's bit order (bit 31 is x^0), by squaring. */
    static int powerOfX(long n) {
        int result = 1 << 31; // x^0
        int square = 1 << 30; // x^1, then x^2, x^4, ...
        for (long e = n; e > 0; e >>>= 1) {
            if ((e & 1) != 0) {
                result = multiplyModP(result, square);
            }
            square = multiplyModP(square, square);
        }
        return result;
    }

    /** a·b modulo the polynomial, both in the register's bit order (bit 31 is x^0). */
    static int multiplyModP(int a, int b) {
        int product = 0;
        for (int m = 1 << 31; m != 0; m >>>= 1) {
            if ((a & m) != 0) {
                product ^= b;
            }
            b = (b >>> 1) ^ (CASTAGNOLI_REFLECTED & -(b & 1)); // b·x
        }
        return product;
    }

    /** CRC32C of {@code buf}'s bytes [from, to), by absolute index; position and limit unchanged. */
    public static int crc32c(ByteBuffer buf, int from, int to) {
        CRC32C crc = new CRC32C();
        crc.update(buf.duplicate().limit(to).position(from));
        return (int) crc.getValue();
    }
}
