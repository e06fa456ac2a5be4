package dev.converge.migration.multifd;

import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import dev.converge.migration.wire.MultifdCompression;
import dev.converge.migration.wire.WireFormatException;
import java.nio.ByteBuffer;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * Compresses and decompresses the data of one multifd PAGES record (the parameter
 * {@code multifd-compression}). Each record is compressed on its own (a zlib stream or a zstd
 * frame), so a record decodes without its predecessors. One codec per channel thread (the
 * native state is not thread-safe); {@link #close} frees it.
 */
public sealed interface PageCodec extends AutoCloseable {
    /** Compresses {@code src}'s remaining bytes (direct) into {@code dst} (direct, room for {@code maxMultifdData}). */
    int compress(ByteBuffer src, ByteBuffer dst);

    /**
     * Decompresses {@code src}'s remaining bytes into exactly {@code dst}'s remaining bytes
     * (both direct).
     *
     * @throws WireFormatException when the data is corrupt or does not decompress to exactly that size
     */
    void decompress(ByteBuffer src, ByteBuffer dst) throws WireFormatException;

    @Override
    void close();

    /** The codec for {@code c}, or null for {@link MultifdCompression#NONE}. */
    static PageCodec of(MultifdCompression c, int zlibLevel, int zstdLevel) {
        return switch (c) {
            case NONE -> null;
            case ZLIB -> new Zlib(zlibLevel);
            case ZSTD -> new Zstd(zstdLevel);
        };
    }

    /** zlib (DEFLATE with the zlib header) from the JDK. */
    final class Zlib implements PageCodec {
        private final Deflater deflater;
        private final Inflater inflater = new Inflater();

        Zlib(int level) {
            deflater = new Deflater(level);
        }

        @Override
        public int compress(ByteBuffer src, ByteBuffer dst) {
            deflater.reset();
            deflater.setInput(src);
            deflater.finish();
            int start = dst.position();
            while (!deflater.finished()) {
                if (!dst.hasRemaining()) {
                    throw new IllegalStateException("zlib output larger than its bound");
                }
                deflater.deflate(dst);
            }
            return dst.position() - start;
        }

        @Override
        public void decompress(ByteBuffer src, ByteBuffer dst) throws WireFormatException {
            int expected = dst.remaining();
            inflater.reset();
            inflater.setInput(src);
            try {
                while (dst.hasRemaining() && !inflater.finished() && !inflater.needsInput()) {
                    inflater.inflate(dst);
                }
            } catch (DataFormatException e) {
                throw new WireFormatException("multifd zlib data corrupt: " + e.getMessage());
            }
            if (dst.hasRemaining() || !inflater.finished() || src.hasRemaining()) {
                throw new WireFormatException("multifd zlib data: " + (expected - dst.remaining()) + " bytes"
                        + (inflater.finished() ? "" : " of an unfinished stream") + (src.hasRemaining() ? ", input left over" : "")
                        + " (expected: exactly " + expected + ")");
            }
        }

        @Override
        public void close() {
            deflater.end();
            inflater.end();
        }
    }

    /** zstd through zstd-jni. */
    final class Zstd implements PageCodec {
        private final ZstdCompressCtx cctx = new ZstdCompressCtx();
        private final ZstdDecompressCtx dctx = new ZstdDecompressCtx();

        Zstd(int level) {
            cctx.setLevel(level);
        }

        @Override
        public int compress(ByteBuffer src, ByteBuffer dst) {
            int n = cctx.compressDirectByteBuffer(dst, dst.position(), dst.remaining(), src, src.position(), src.remaining());
            dst.position(dst.position() + n);
            src.position(src.limit());
            return n;
        }

        @Override
        public void decompress(ByteBuffer src, ByteBuffer dst) throws WireFormatException {
            int expected = dst.remaining();
            int n;
            try {
                n = dctx.decompressDirectByteBuffer(dst, dst.position(), expected, src, src.position(), src.remaining());
            } catch (ZstdException e) {
                throw new WireFormatException("multifd zstd data corrupt: " + e.getMessage());
            }
            if (n != expected) {
                throw new WireFormatException("multifd zstd data: " + n + " bytes (expected: exactly " + expected + ")");
            }
            dst.position(dst.limit());
            src.position(src.limit());
        }

        @Override
        public void close() {
            cctx.close();
            dctx.close();
        }
    }
}
