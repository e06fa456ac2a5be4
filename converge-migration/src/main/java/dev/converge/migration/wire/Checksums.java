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

    /** CRC32C of {@code buf}'s bytes [from, to), by absolute index; position and limit unchanged. */
    public static int crc32c(ByteBuffer buf, int from, int to) {
        CRC32C crc = new CRC32C();
        crc.update(buf.duplicate().limit(to).position(from));
        return (int) crc.getValue();
    }
}
