package dev.converge.migration.wire;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One unit of the migration stream, decoded. Byte data ({@link Page#data}, {@link PageBatch#data},
 * {@link DeviceState#data}) returned by {@link StreamDecoder} is a read-only view into the
 * decoder's input buffer: valid until the caller reuses those bytes (e.g. compacts the buffer).
 * Equality of byte data is by content (ByteBuffer's remaining bytes).
 */
public sealed interface StreamRecord {
    /** The stream header: magic (checked), version and flags ({@link WireFormat#FLAG_VERIFIED}; 0 before version 5). */
    record Header(int version, int flags) implements StreamRecord {
        /** A header without flags. */
        public Header(int version) {
            this(version, 0);
        }

        /** Whether the stream is verified: CRC32C trailers and the RAM digest in COMPLETE. */
        public boolean verified() {
            return (flags & WireFormat.FLAG_VERIFIED) != 0;
        }

        /** Whether the source may switch to postcopy ({@link WireFormat#FLAG_POSTCOPY}). */
        public boolean postcopy() {
            return (flags & WireFormat.FLAG_POSTCOPY) != 0;
        }
    }

    /** One declared RAM block. */
    record BlockInfo(String name, long size) {
        public BlockInfo {
            Objects.requireNonNull(name);
        }
    }

    /** The RAM layout, blocks in index order. */
    record RamBlocks(List<BlockInfo> blocks) implements StreamRecord {
        public RamBlocks {
            blocks = List.copyOf(blocks);
        }
    }

    /** One page of data. */
    record Page(int block, long offset, ByteBuffer data) implements StreamRecord {
    }

    /** One all-zero page. */
    record ZeroPage(int block, long offset) implements StreamRecord {
    }

    /**
     * {@code offsets.length} pages of one block; {@code data} holds them back to back.
     * {@code crcs}: each page's CRC32C where the decoder computed it to check a verified record's
     * trailer (the receiver records them instead of reading the pages again), else null. Derived
     * from {@code data}: not part of equality.
     */
    record PageBatch(int block, long[] offsets, ByteBuffer data, int[] crcs) implements StreamRecord {
        /** A batch without page CRCs (the encoder's input, an unverified stream). */
        public PageBatch(int block, long[] offsets, ByteBuffer data) {
            this(block, offsets, data, null);
        }

        /** The data of page {@code i}, a view. */
        public ByteBuffer page(int i) {
            return data.slice(data.position() + i * WireFormat.PAGE_SIZE, WireFormat.PAGE_SIZE);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof PageBatch b && b.block == block && Arrays.equals(b.offsets, offsets) && b.data.equals(data);
        }

        @Override
        public int hashCode() {
            return Objects.hash(block, Arrays.hashCode(offsets), data);
        }

        @Override
        public String toString() {
            return "PageBatch[block=" + block + ", offsets=" + Arrays.toString(offsets) + "]";
        }
    }

    /**
     * Multifd: pages also travel over {@code channels} extra connections whose hellos carry
     * {@code session}; their data is compressed with {@code compression}.
     */
    record MultifdSetup(int channels, MultifdCompression compression, long session) implements StreamRecord {
        public MultifdSetup {
            Objects.requireNonNull(compression);
        }
    }

    /** A pass ended. */
    record EndOfPass(long pass) implements StreamRecord {
    }

    /** The device state, opaque here. */
    record DeviceState(ByteBuffer data) implements StreamRecord {
    }

    /**
     * The source sent everything. In a verified stream {@code ramDigest} is the digest of the
     * source's table of page CRC32Cs at the switchover ({@code PageCrcTable#digest}, 64 lowercase
     * hex digits); otherwise null.
     */
    record Complete(String ramDigest) implements StreamRecord {
        /** COMPLETE of a stream that is not verified. */
        public Complete() {
            this(null);
        }
    }

    /** Postcopy begins: the source's vCPUs are stopped. */
    record PostcopyListen() implements StreamRecord {
    }

    /**
     * Pages of block {@code block} that are stale on the destination: bit i of {@code words[w]}
     * is page {@code firstPage + 64 w + i}.
     */
    record PostcopyDiscard(int block, long firstPage, long[] words) implements StreamRecord {
        @Override
        public boolean equals(Object o) {
            return o instanceof PostcopyDiscard d && d.block == block && d.firstPage == firstPage
                    && Arrays.equals(d.words, words);
        }

        @Override
        public int hashCode() {
            return Objects.hash(block, firstPage, Arrays.hashCode(words));
        }

        @Override
        public String toString() {
            return "PostcopyDiscard[block=" + block + ", firstPage=" + firstPage + ", words=" + words.length + "]";
        }
    }

    /** The destination runs now. */
    record PostcopyRun() implements StreamRecord {
    }

    /** Every page was sent on this connection; {@code ramDigest} as in {@link Complete} (null when not verified). */
    record PostcopyEnd(String ramDigest) implements StreamRecord {
    }

    /** A recovery connection of a paused postcopy begins. */
    record PostcopyResume() implements StreamRecord {
    }

    /** Main stream: a preempt channel follows; on that channel: this is it. */
    record PostcopyPreempt() implements StreamRecord {
    }

    /** The source committed the switchover: the destination runs the machine (version 3). */
    record Start() implements StreamRecord {
    }

    /** The source rolled the switchover back: the destination discards the state (version 3). */
    record Abort() implements StreamRecord {
    }
}
