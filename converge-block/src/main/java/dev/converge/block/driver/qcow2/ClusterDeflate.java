package dev.converge.block.driver.qcow2;

import java.util.zip.Deflater;

/**
 * The compression of one qcow2 cluster (compression type 0, deflate), as a pure function.
 * <p>
 * A compressed cluster is a raw deflate stream (no zlib header or checksum). QEMU inflates it
 * with a 4 KiB window (windowBits -12), so no back-reference may reach further than 4096 bytes;
 * the JDK's deflater always uses a 32 KiB window. A full flush after every 4 KiB of input resets
 * the compressor's history, so no reference crosses a flush point and every distance stays below
 * 4096: the stream then inflates with QEMU's window, at the cost of a few bytes per 4 KiB.
 * <p>
 * Not thread-safe: one instance per thread at a time ({@link CompressedWrites} pools them).
 */
final class ClusterDeflate {
    /** QEMU's inflate window: 2^12 bytes. */
    static final int WINDOW = 4096;

    private final Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
    private byte[] out = new byte[0];

    /**
     * Deflates {@code in[0, len)} into {@link #output()}.
     *
     * @param limit the most bytes the result may take
     * @return the compressed length, or -1 when it would exceed {@code limit} (store it plainly)
     */
    int deflate(byte[] in, int len, int limit) {
        if (out.length < limit + 64) {
            out = new byte[limit + 64];
        }
        deflater.reset();
        int n = 0;
        for (int pos = 0; pos < len; pos += WINDOW) {
            deflater.setInput(in, pos, Math.min(WINDOW, len - pos));
            // FULL_FLUSH: everything of this window is out and the history is forgotten
            int got;
            do {
                got = deflater.deflate(out, n, out.length - n, Deflater.FULL_FLUSH);
                n += got;
                if (n > limit) {
                    return -1;
                }
            } while (got > 0 && !deflater.needsInput());
        }
        deflater.finish();
        while (!deflater.finished()) {
            n += deflater.deflate(out, n, out.length - n);
            if (n > limit) {
                return -1;
            }
        }
        return n;
    }

    /** The buffer the last {@link #deflate} wrote its result to. */
    byte[] output() {
        return out;
    }

    /** Frees the native state. */
    void end() {
        deflater.end();
    }
}
