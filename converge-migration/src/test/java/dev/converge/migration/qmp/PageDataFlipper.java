package dev.converge.migration.qmp;

import dev.converge.migration.wire.RecordType;
import dev.converge.migration.wire.WireFormat;
import dev.converge.testing.FaultProxy;
import java.nio.ByteBuffer;

/**
 * Flips one bit inside the page data of the first PAGE_BATCH of a migration stream that
 * passes a {@link FaultProxy}: follows the record framing (every record of a stream is at
 * least 16 bytes: record header and the batch's block and count) across chunk boundaries.
 * Also keeps the stream header's flags, for tests that check what the source declared.
 */
final class PageDataFlipper implements FaultProxy.Tamper {
    private final byte[] head = new byte[16];
    /** Offset of the next record header; -1 once flipped. Confined to the proxy's one upstream reader. */
    private long next = WireFormat.STREAM_HEADER_SIZE;
    private long target = -1;
    private volatile int headerFlags = -1;
    private volatile boolean flipped;

    @Override
    public void apply(ByteBuffer chunk, long offset) {
        for (int i = chunk.position(); i < chunk.limit() && !flipped; i++) {
            long at = offset + (i - chunk.position());
            if (at == 6) {
                headerFlags = Byte.toUnsignedInt(chunk.get(i));
            }
            if (target >= 0) {
                if (at == target) {
                    chunk.put(i, (byte) (chunk.get(i) ^ 0x04));
                    flipped = true;
                }
                continue;
            }
            if (at >= next && at < next + head.length) {
                head[(int) (at - next)] = chunk.get(i);
                if (at == next + head.length - 1) {
                    ByteBuffer h = ByteBuffer.wrap(head).order(WireFormat.ORDER);
                    if (h.getShort(0) == RecordType.PAGE_BATCH.code()) {
                        int count = h.getInt(12);
                        target = next + WireFormat.RECORD_HEADER_SIZE + WireFormat.BATCH_FIXED + 8L * count + 1000;
                    } else {
                        next += WireFormat.RECORD_HEADER_SIZE + Integer.toUnsignedLong(h.getInt(4));
                    }
                }
            }
        }
    }

    /** Whether the bit was flipped. */
    boolean flipped() {
        return flipped;
    }

    /** The low byte of the stream header's flags, -1 before it passed. */
    int headerFlags() {
        return headerFlags;
    }
}
