package dev.converge.migration.multifd;

import dev.converge.migration.wire.MultifdCompression;
import dev.converge.migration.wire.WireFormatException;
import java.nio.ByteBuffer;

/** {@link PageCodec} for tests outside this package. */
public final class PageCodecs {
    private PageCodecs() {
    }

    /** Compresses {@code src} into {@code out} (flipped after), then decompresses that into {@code back}. */
    public static void roundTrip(MultifdCompression c, ByteBuffer src, ByteBuffer out, ByteBuffer back)
            throws WireFormatException {
        try (PageCodec codec = PageCodec.of(c, 6, 3)) {
            codec.compress(src.duplicate(), out);
            out.flip();
            codec.decompress(out.duplicate(), back);
        }
    }

    /** Decompresses {@code src} into exactly {@code dst}'s remaining bytes. */
    public static void decompress(MultifdCompression c, ByteBuffer src, ByteBuffer dst) throws WireFormatException {
        try (PageCodec codec = PageCodec.of(c, 6, 3)) {
            codec.decompress(src, dst);
        }
    }
}
