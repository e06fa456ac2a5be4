package dev.converge.migration.file;

import dev.converge.migration.machine.GuestRam;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.PageCrcTable;
import dev.converge.migration.machine.RamBlock;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import java.util.zip.CRC32C;

/**
 * Writes a stopped machine's RAM and device state to a migration file (see {@link FileHeader}).
 * With mapped-ram every non-zero page goes to its fixed place, by several writers at once, and
 * zero pages are holes (the file is sparse); without it the non-zero pages follow each other as
 * records. The header goes last, so a save cut short leaves a file that restore refuses.
 */
public final class FileSaver {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(FileSaver.class);
    /** Longest run of pages written in one call. */
    private static final long MAX_RUN_PAGES = 256;

    /** What a save wrote. */
    public record Saved(long bytes, long normalPages, long zeroPages) {
    }

    private FileSaver() {
    }

    /**
     * Saves {@code machine}, whose vCPUs are stopped, into {@code ch} from {@code base}.
     *
     * @param mappedRam  pages at fixed offsets, written in parallel
     * @param digest     store the RAM digest, which restore then checks
     * @param cancelled  polled between units of work; a true ends the save with {@link InterruptedIOException}
     */
    public static Saved save(Machine machine, FileChannel ch, long base, boolean mappedRam, boolean digest,
            BooleanSupplier cancelled) throws IOException {
        GuestRam ram = machine.ram();
        List<GuestRam.BlockInfo> layoutInfo = ram.layout();
        FileLayout layout = FileLayout.of(layoutInfo);
        LongAdder normal = new LongAdder();
        long t0 = System.nanoTime();
        long pagesOffset;
        long pagesLength;
        long bitmapOffset = 0;
        long bitmapLength = 0;
        // With a digest, each page's CRC is taken while the writer has it in cache: no second pass over RAM.
        PageCrcTable crcs = digest ? new PageCrcTable(ram.blocks()) : null;
        if (mappedRam) {
            long[] bitmap = new long[(int) (layout.bitmapLength() / 8)];
            pagesOffset = layout.mappedPagesOffset();
            pagesLength = layout.totalPages() * RamBlock.PAGE_SIZE;
            writeMapped(ram, layout, ch, base + pagesOffset, bitmap, normal, crcs, cancelled);
            bitmapOffset = FileLayout.bitmapOffset();
            bitmapLength = layout.bitmapLength();
            ByteBuffer bb = ByteBuffer.allocate((int) bitmapLength).order(ByteOrder.LITTLE_ENDIAN);
            bb.asLongBuffer().put(bitmap);
            writeFully(ch, bb, base + bitmapOffset);
        } else {
            pagesOffset = FileHeader.SIZE;
            pagesLength = writeRecords(ram, layout, ch, base + pagesOffset, normal, crcs, cancelled);
        }
        byte[] device = machine.saveDeviceState();
        long deviceOffset = FileLayout.align(pagesOffset + pagesLength, RamBlock.PAGE_SIZE);
        writeFully(ch, ByteBuffer.wrap(device), base + deviceOffset);
        CRC32C crc = new CRC32C();
        crc.update(device);
        long t1 = System.nanoTime();
        byte[] ramDigest = digest ? HexFormat.of().parseHex(crcs.digest()) : new byte[32];
        long t2 = System.nanoTime();
        FileHeader h = new FileHeader((mappedRam ? FileHeader.MAPPED_RAM : 0) | (digest ? FileHeader.DIGEST : 0),
                ram.size(), bitmapOffset, bitmapLength, pagesOffset, pagesLength, deviceOffset, device.length,
                (int) crc.getValue(), layoutInfo, ramDigest);
        writeFully(ch, h.encode(), base);
        long n = normal.sum();
        log.info("saved '{}': {} pages with data, {} bytes, mapped-ram {}: pages {} ms, digest {} ms", machine.name(), n,
                deviceOffset + device.length, mappedRam, (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000);
        return new Saved(deviceOffset + device.length, n, layout.totalPages() - n);
    }

    /** Every non-zero page to its place, runs of pages per call, units of work in parallel. */
    private static void writeMapped(GuestRam ram, FileLayout layout, FileChannel ch, long pagesAt, long[] bitmap,
            LongAdder normal, PageCrcTable crcs, BooleanSupplier cancelled) throws IOException {
        PageChunks.run(ram.blocks(), layout, "file-save-", (b, block, from, to, first) -> {
            if (cancelled.getAsBoolean()) {
                throw new InterruptedIOException("migration cancelled");
            }
            writeRuns(b, block, from, to, first, ch, pagesAt, bitmap, normal, crcs);
        });
    }

    private static void writeRuns(int b, RamBlock block, long from, long to, long first, FileChannel ch, long pagesAt,
            long[] bitmap, LongAdder normal, PageCrcTable crcs) throws IOException {
        // This unit's bits first, merged once at the end: a block need not start on a bitmap word
        // boundary, so two units may share a word.
        long wordBase = (first + from) >>> 6;
        long[] bits = new long[(int) (((first + to - 1) >>> 6) - wordBase + 1)];
        long p = from;
        while (p < to) {
            if (block.isZeroPage(p)) {
                p++;
                continue;
            }
            long runStart = p;
            while (p < to && p - runStart < MAX_RUN_PAGES && !block.isZeroPage(p)) {
                long g = first + p;
                bits[(int) ((g >>> 6) - wordBase)] |= 1L << (g & 63);
                if (crcs != null) {
                    crcs.record(b, p, block.page(p).asByteBuffer());
                }
                p++;
            }
            writeFully(ch, block.pages(runStart, p - runStart).asByteBuffer(),
                    pagesAt + (first + runStart) * RamBlock.PAGE_SIZE);
            normal.add(p - runStart);
        }
        synchronized (bitmap) {
            for (int i = 0; i < bits.length; i++) {
                bitmap[(int) (wordBase + i)] |= bits[i];
            }
        }
    }

    /** The non-zero pages as records [u64 page index][page], in order. @return bytes written */
    private static long writeRecords(GuestRam ram, FileLayout layout, FileChannel ch, long at, LongAdder normal,
            PageCrcTable crcs, BooleanSupplier cancelled) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(256 * FileLayout.RECORD_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        long pos = at;
        List<RamBlock> blocks = ram.blocks();
        for (int b = 0; b < blocks.size(); b++) {
            RamBlock block = blocks.get(b);
            for (long p = 0; p < block.pages(); p++) {
                if (block.isZeroPage(p)) {
                    continue;
                }
                if (buf.remaining() < FileLayout.RECORD_SIZE) {
                    if (cancelled.getAsBoolean()) {
                        throw new InterruptedIOException("migration cancelled");
                    }
                    pos += writeFully(ch, buf.flip(), pos);
                    buf.clear();
                }
                ByteBuffer page = block.page(p).asByteBuffer();
                if (crcs != null) {
                    crcs.record(b, p, page);
                }
                buf.putLong(layout.firstPage()[b] + p).put(page);
                normal.increment();
            }
        }
        pos += writeFully(ch, buf.flip(), pos);
        return pos - at;
    }

    static int writeFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        int n = b.remaining();
        long pos = position;
        while (b.hasRemaining()) {
            pos += ch.write(b, pos);
        }
        return n;
    }
}
