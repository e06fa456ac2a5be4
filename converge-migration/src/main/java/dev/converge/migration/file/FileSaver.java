package dev.converge.migration.file;

import dev.converge.migration.machine.GuestRam;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.MigrationBitmap;
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
        FileLayout layout = FileLayout.of(ram.layout());
        LongAdder normal = new LongAdder();
        long t0 = System.nanoTime();
        // With a digest, each page's CRC is taken while the writer has it in cache: no second pass over RAM.
        PageCrcTable crcs = digest ? new PageCrcTable(ram.blocks()) : null;
        long[] bitmap = null;
        long pagesLength;
        if (mappedRam) {
            bitmap = new long[(int) (layout.bitmapLength() / 8)];
            pagesLength = layout.totalPages() * RamBlock.PAGE_SIZE;
            writeMapped(ram, layout, ch, base + layout.mappedPagesOffset(), bitmap, normal, crcs, cancelled);
        } else {
            pagesLength = writeRecords(ram, layout, ch, base + FileHeader.SIZE, normal, crcs, cancelled);
        }
        long t1 = System.nanoTime();
        Saved s = finish(machine, ch, base, mappedRam, layout, bitmap, pagesLength, crcs);
        long n = normal.sum();
        log.info("saved '{}': {} pages with data, {} bytes, mapped-ram {}: pages {} ms, device state and digest {} ms",
                machine.name(), n, s.bytes(), mappedRam, (t1 - t0) / 1_000_000, (System.nanoTime() - t1) / 1_000_000);
        return new Saved(s.bytes(), n, layout.totalPages() - n);
    }

    /**
     * After the pages: the device state, with mapped-ram the page bitmap, and the header last.
     *
     * @param bitmap      mapped-ram's page bitmap, else null
     * @param pagesLength bytes of the page region (mapped-ram) or of the page records
     * @param crcs        the pages' CRCs for the digest, or null for none
     * @return the bytes of the file (pages counts are the caller's)
     */
    private static Saved finish(Machine machine, FileChannel ch, long base, boolean mappedRam, FileLayout layout,
            long[] bitmap, long pagesLength, PageCrcTable crcs) throws IOException {
        GuestRam ram = machine.ram();
        long pagesOffset = mappedRam ? layout.mappedPagesOffset() : FileHeader.SIZE;
        long bitmapOffset = 0;
        long bitmapLength = 0;
        if (mappedRam) {
            bitmapOffset = FileLayout.bitmapOffset();
            bitmapLength = layout.bitmapLength();
            ByteBuffer bb = ByteBuffer.allocate((int) bitmapLength).order(ByteOrder.LITTLE_ENDIAN);
            bb.asLongBuffer().put(bitmap);
            writeFully(ch, bb, base + bitmapOffset);
        }
        byte[] device = machine.saveDeviceState();
        long deviceOffset = FileLayout.align(pagesOffset + pagesLength, RamBlock.PAGE_SIZE);
        writeFully(ch, ByteBuffer.wrap(device), base + deviceOffset);
        CRC32C crc = new CRC32C();
        crc.update(device);
        byte[] ramDigest = crcs != null ? HexFormat.of().parseHex(crcs.digest()) : new byte[32];
        FileHeader h = new FileHeader((mappedRam ? FileHeader.MAPPED_RAM : 0) | (crcs != null ? FileHeader.DIGEST : 0),
                ram.size(), bitmapOffset, bitmapLength, pagesOffset, pagesLength, deviceOffset, device.length,
                (int) crc.getValue(), ram.layout(), ramDigest);
        writeFully(ch, h.encode(), base);
        return new Saved(deviceOffset + device.length, 0, 0);
    }

    /**
     * How a live save (mapped-ram, the machine running) decides and makes its switchover: the
     * migration job's side of {@link #saveLive}.
     */
    public interface LiveControl {
        /**
         * After a pass: whether the pages dirtied meanwhile ({@code remainingBytes}), written at
         * the pass's rate ({@code bytesPerSecond}), fit the downtime limit.
         */
        boolean converged(long remainingBytes, double bytesPerSecond);

        /** Stops the vCPUs for the last pass (the switchover); no page changes after it. */
        void stopVcpus();
    }

    /**
     * Most passes a live save makes before it stops the vCPUs anyway: a file has no peer that
     * runs the guest meanwhile, so a guest that dirties faster than the disk writes costs a
     * longer last pass, not a migration that never ends.
     */
    public static final int MAX_LIVE_PASSES = 10;

    /**
     * Whether a pass left at most nine tenths of what the pass before it left: a guest that
     * dirties as fast as the file is written only makes each pass rewrite the same pages, and
     * the save stops it rather than write them again up to {@link #MAX_LIVE_PASSES} times.
     */
    static boolean shrinking(long previousRemaining, long remaining) {
        return previousRemaining == Long.MAX_VALUE || remaining <= previousRemaining - previousRemaining / 10;
    }

    /** What a live save wrote: the totals and its passes (the last one with the vCPUs stopped). */
    public record SavedLive(Saved saved, int passes) {
    }

    /**
     * Saves a running machine with mapped-ram, live: the first pass writes every page ever
     * written to its fixed place while the guest runs; each further pass rewrites, in place, the
     * pages dirtied during the previous one, until what is left fits the downtime limit, stops
     * shrinking by a tenth a pass ({@link #shrinking}), or after {@link #MAX_LIVE_PASSES}; then {@link LiveControl#stopVcpus}, the last dirty pages,
     * the device state, the page bitmap and the header (last). A page that became zero after it
     * was written is rewritten as zeros; the file stays as large as RAM at most, whatever the
     * guest dirties. The RAM digest is of the pages as the last pass left them, which is the
     * machine's RAM at the switchover.
     */
    public static SavedLive saveLive(Machine machine, FileChannel ch, long base, boolean digest, BooleanSupplier cancelled,
            LiveControl control) throws IOException {
        GuestRam ram = machine.ram();
        FileLayout layout = FileLayout.of(ram.layout());
        PageCrcTable crcs = digest ? new PageCrcTable(ram.blocks()) : null;
        long[] present = new long[(int) (layout.bitmapLength() / 8)];
        long pagesAt = base + layout.mappedPagesOffset();
        MigrationBitmap dirty = ram.newMigrationBitmap();
        ram.syncDirtyLog(dirty); // from here on every write is in the log
        ram.markEverWritten(dirty);
        long t0 = System.nanoTime();
        int passes = 0;
        long previous = Long.MAX_VALUE;
        while (true) {
            passes++;
            long start = System.nanoTime();
            long bytes = writeDirty(ram, layout, ch, pagesAt, dirty, present, crcs, cancelled) * RamBlock.PAGE_SIZE;
            double rate = bytes * 1e9 / Math.max(1, System.nanoTime() - start);
            ram.syncDirtyLog(dirty);
            long remaining = dirty.count() * RamBlock.PAGE_SIZE;
            if (passes >= MAX_LIVE_PASSES || control.converged(remaining, rate) || !shrinking(previous, remaining)) {
                break;
            }
            previous = remaining;
        }
        control.stopVcpus();
        ram.syncDirtyLog(dirty);
        writeDirty(ram, layout, ch, pagesAt, dirty, present, crcs, cancelled);
        passes++;
        long withData = 0;
        for (long w : present) {
            withData += Long.bitCount(w);
        }
        Saved s = finish(machine, ch, base, true, layout, present, layout.totalPages() * RamBlock.PAGE_SIZE, crcs);
        log.info("saved '{}' live: {} passes, {} pages with data, {} ms", machine.name(), passes, withData,
                (System.nanoTime() - t0) / 1_000_000);
        return new SavedLive(new Saved(s.bytes(), withData, layout.totalPages() - withData), passes);
    }

    /**
     * One live pass: every page marked in {@code dirty} to its place (the mark cleared first: a
     * write racing the copy marks it in the dirty log again), in parallel ranges.
     *
     * @return pages written
     */
    private static long writeDirty(GuestRam ram, FileLayout layout, FileChannel ch, long pagesAt, MigrationBitmap dirty,
            long[] present, PageCrcTable crcs, BooleanSupplier cancelled) throws IOException {
        LongAdder written = new LongAdder();
        ByteBuffer zeros = ByteBuffer.allocateDirect(RamBlock.PAGE_SIZE);
        PageChunks.run(ram.blocks(), layout, "file-save-", (b, block, from, to, first) -> {
            if (cancelled.getAsBoolean()) {
                throw new InterruptedIOException("migration cancelled");
            }
            long p = dirty.nextSet(b, from);
            while (p >= 0 && p < to) {
                long g = first + p;
                if (block.isZeroPage(p)) {
                    dirty.clear(b, p);
                    if (crcs != null) {
                        crcs.recordZero(b, p);
                    }
                    boolean wasWritten;
                    synchronized (present) {
                        wasWritten = (present[(int) (g >>> 6)] & (1L << (g & 63))) != 0;
                    }
                    if (wasWritten) { // zero now, data in the file: overwrite (the bit stays, the page reads as zeros)
                        writeFully(ch, zeros.duplicate(), pagesAt + g * RamBlock.PAGE_SIZE);
                        written.increment();
                    }
                    p = dirty.nextSet(b, p + 1);
                    continue;
                }
                long runStart = p;
                while (p < to && p - runStart < MAX_RUN_PAGES && dirty.isSet(b, p) && !block.isZeroPage(p)) {
                    dirty.clear(b, p);
                    if (crcs != null) {
                        crcs.record(b, p, block.page(p).asByteBuffer());
                    }
                    p++;
                }
                writeFully(ch, block.pages(runStart, p - runStart).asByteBuffer(), pagesAt + (first + runStart) * RamBlock.PAGE_SIZE);
                written.add(p - runStart);
                synchronized (present) {
                    for (long q = runStart; q < p; q++) {
                        long gq = first + q;
                        present[(int) (gq >>> 6)] |= 1L << (gq & 63);
                    }
                }
                p = p < to ? dirty.nextSet(b, p) : -1;
            }
        });
        return written.sum();
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
