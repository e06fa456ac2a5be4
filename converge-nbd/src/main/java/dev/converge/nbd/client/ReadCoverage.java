package dev.converge.nbd.client;

import dev.converge.nbd.wire.NbdProtocolException;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which bytes of a READ request its structured reply has filled. The NBD protocol says the
 * OFFSET_DATA and OFFSET_HOLE chunks of a successful read cover the whole request and never
 * overlap; a reply that leaves a gap would otherwise hand the caller whatever its buffer held
 * before (stale bytes when buffers are reused), silently. Pure: fed the chunks in the order they
 * came; not thread-safe (one reader thread per connection).
 */
final class ReadCoverage {
    private final long offset;
    private final long length;
    /** Covered ranges, start → end (exclusive), merged when adjacent. */
    private final TreeMap<Long, Long> ranges = new TreeMap<>();
    private long covered;

    /** For the request [offset, offset + length). */
    ReadCoverage(long offset, long length) {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("read of " + length + " bytes at " + offset + " (expected: both >= 0)");
        }
        this.offset = offset;
        this.length = length;
    }

    /**
     * One chunk covered [chunkOffset, chunkOffset + chunkLength).
     *
     * @throws NbdProtocolException.Malformed when it lies outside the request or overlaps a chunk before it
     */
    void add(long chunkOffset, long chunkLength) throws NbdProtocolException.Malformed {
        long end = chunkOffset + chunkLength;
        if (chunkLength < 0 || chunkOffset < offset || end > offset + length || end < chunkOffset) {
            throw new NbdProtocolException.Malformed("read chunk of " + chunkLength + " bytes at " + chunkOffset
                    + " outside the request of " + length + " bytes at " + offset);
        }
        if (chunkLength == 0) {
            return;
        }
        Map.Entry<Long, Long> before = ranges.floorEntry(chunkOffset);
        Map.Entry<Long, Long> after = ranges.ceilingEntry(chunkOffset);
        if ((before != null && before.getValue() > chunkOffset) || (after != null && after.getKey() < end)) {
            throw new NbdProtocolException.Malformed("read chunk of " + chunkLength + " bytes at " + chunkOffset
                    + " overlaps an earlier chunk of the same reply");
        }
        long start = chunkOffset;
        if (before != null && before.getValue() == chunkOffset) {
            start = before.getKey();
            ranges.remove(start);
        }
        long stop = end;
        if (after != null && after.getKey() == end) {
            stop = after.getValue();
            ranges.remove(end);
        }
        ranges.put(start, stop);
        covered += chunkLength;
    }

    /** Bytes covered so far. */
    long covered() {
        return covered;
    }

    /** Whether every byte of the request is covered. */
    boolean complete() {
        return covered == length;
    }
}
