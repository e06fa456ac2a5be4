package dev.converge.migration.postcopy;

import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.precopy.MigrationException;
import dev.converge.migration.wire.StreamEncoder;
import dev.converge.migration.wire.WireFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Writes postcopy pages of the stopped source onto one channel (the main stream or the preempt
 * channel): zero pages as markers, the others as one PAGE_BATCH gathered straight from guest RAM
 * (nothing changes a stopped guest's pages while they are checksummed). Its buffers are its own:
 * one writer per channel, used by one thread at a time.
 */
final class PageWriter {
    /** What one {@link #send} wrote. */
    record Sent(long bytes, int zeroPages) {
    }

    private final List<RamBlock> blocks;
    private final boolean verified;
    private final GatheringByteChannel out;
    private final ByteBuffer head = ByteBuffer.allocateDirect(16 << 10).order(WireFormat.ORDER);
    private final ByteBuffer trailer = ByteBuffer.allocateDirect(WireFormat.CHECKSUM_SIZE).order(WireFormat.ORDER);
    private final ByteBuffer[] gather = new ByteBuffer[2 + WireFormat.MAX_BATCH_PAGES];
    private final long[] dataOffsets = new long[WireFormat.MAX_BATCH_PAGES];
    private final CRC32C crc = new CRC32C();

    PageWriter(List<RamBlock> blocks, boolean verified, GatheringByteChannel out) {
        this.blocks = blocks;
        this.verified = verified;
        this.out = out;
    }

    GatheringByteChannel channel() {
        return out;
    }

    /**
     * Sends pages {@code pages[0..n)} (at most {@link WireFormat#MAX_BATCH_PAGES}) of {@code block}.
     *
     * @throws MigrationException.ChannelFailed when the channel fails
     */
    Sent send(int block, long[] pages, int n) throws MigrationException {
        RamBlock rb = blocks.get(block);
        head.clear();
        int data = 0;
        int zeros = 0;
        for (int i = 0; i < n; i++) {
            long page = pages[i];
            if (rb.isZeroPage(page)) {
                StreamEncoder.putZeroPage(head, block, page << RamBlock.PAGE_SHIFT, verified);
                zeros++;
            } else {
                dataOffsets[data] = page << RamBlock.PAGE_SHIFT;
                gather[1 + data] = rb.page(page).asByteBuffer();
                data++;
            }
        }
        int count = 1 + data;
        if (data > 0) {
            int start = head.position();
            StreamEncoder.putBatchHead(head, block, dataOffsets, data, verified);
            if (verified) {
                crc.reset();
                crc.update(head.duplicate().limit(head.position()).position(start));
                for (int i = 0; i < data; i++) {
                    crc.update(gather[1 + i].duplicate());
                }
                trailer.clear().putInt((int) crc.getValue()).flip();
                gather[count++] = trailer;
            }
        }
        head.flip();
        gather[0] = head;
        try {
            return new Sent(write(out, gather, count), zeros);
        } finally {
            Arrays.fill(gather, null);
        }
    }

    /** Writes {@code buffers[0..count)} whole, in order, onto {@code out}; returns the bytes written. */
    static long write(GatheringByteChannel out, ByteBuffer[] buffers, int count) throws MigrationException {
        long total = 0;
        try {
            while (buffers[count - 1].hasRemaining()) {
                total += out.write(buffers, 0, count);
            }
        } catch (IOException e) {
            throw new MigrationException.ChannelFailed("migration stream to the destination failed: " + e.getMessage(), e);
        }
        return total;
    }
}
