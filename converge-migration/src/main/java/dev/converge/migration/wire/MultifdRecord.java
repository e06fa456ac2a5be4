package dev.converge.migration.wire;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * One unit of a multifd channel, decoded ({@link MultifdDecoder}). A channel is its own
 * connection next to the main stream: a {@link Hello} first, then {@link Pages} and
 * {@link Sync} records in the main stream's record framing (see the package doc).
 */
public sealed interface MultifdRecord {
    /**
     * The channel's first bytes: which migration ({@code session}, as the main stream's
     * MULTIFD_SETUP declared it) and which of its {@code channels} channels this is.
     *
     * @param version  the main stream's version
     * @param flags    the main stream's header flags ({@link WireFormat#FLAG_VERIFIED})
     * @param channel  0..channels-1
     * @param channels how many channels the migration has
     * @param session  the migration's random id
     */
    record Hello(int version, int flags, int channel, int channels, long session) implements MultifdRecord {
        /** Whether the channel's records carry CRC32C trailers. */
        public boolean verified() {
            return (flags & WireFormat.FLAG_VERIFIED) != 0;
        }
    }

    /**
     * Pages of one RAM block: {@code normal} pages whose data is in {@code data} (in that
     * order, compressed with {@code compression}), and {@code zero} pages that are all zero
     * (no data). {@code data} is a view into the decoder's input, valid until the caller reuses
     * those bytes.
     */
    record Pages(int block, long[] normal, long[] zero, MultifdCompression compression, ByteBuffer data)
            implements MultifdRecord {
        public Pages {
            Objects.requireNonNull(compression);
            Objects.requireNonNull(data);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Pages p && p.block == block && Arrays.equals(p.normal, normal)
                    && Arrays.equals(p.zero, zero) && p.compression == compression && p.data.equals(data);
        }

        @Override
        public int hashCode() {
            return Objects.hash(block, Arrays.hashCode(normal), Arrays.hashCode(zero), compression, data);
        }

        @Override
        public String toString() {
            return "Pages[block=" + block + ", normal=" + Arrays.toString(normal) + ", zero=" + Arrays.toString(zero)
                    + ", " + compression + ", " + data.remaining() + " bytes]";
        }
    }

    /**
     * A sync point: every page this channel sent before it belongs to pass {@code pass} or an
     * earlier one. The destination applies nothing after it until every channel reached it and
     * the main stream's END_OF_PASS {@code pass} came.
     */
    record Sync(long pass) implements MultifdRecord {
    }
}
