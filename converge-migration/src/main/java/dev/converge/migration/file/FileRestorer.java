package dev.converge.migration.file;

import dev.converge.migration.machine.GuestRam;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.PageCrcTable;
import dev.converge.migration.machine.RamBlock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Loads a migration file (see {@link FileHeader}) into a machine waiting for an incoming
 * migration: checks the header, the RAM layout and the file's length before touching RAM, reads
 * the pages (with mapped-ram: several readers at once, straight into guest RAM, only the pages
 * the bitmap names), loads the device state after checking its CRC32C and, when the file has
 * one, compares the RAM digest. Any problem is an {@link FileHeader.InvalidFileException} or an
 * {@link IOException} naming it; the caller then discards the RAM.
 */
public final class FileRestorer {
    private static final long MAX_RUN_PAGES = 256;

    /** What a restore read. */
    public record Restored(long bytes, long normalPages, long zeroPages) {
    }

    private FileRestorer() {
    }

    /** Restores {@code machine} (in inmigrate) from {@code ch} at {@code base}; the machine's run state is the caller's. */
    public static Restored restore(Machine machine, FileChannel ch, long base)
            throws IOException, FileHeader.InvalidFileException {
        ByteBuffer hb = ByteBuffer.allocate(FileHeader.SIZE);
        readFully(ch, hb, base, base + FileHeader.SIZE);
        FileHeader h = FileHeader.decode(hb.flip());
        GuestRam ram = machine.ram();
        if (!h.layout().equals(ram.layout())) {
            throw new FileHeader.InvalidFileException("its RAM layout " + describe(h.layout())
                    + " differs from the machine's " + describe(ram.layout()));
        }
        long size = ch.size();
        if (size < base + h.end()) {
            throw new FileHeader.InvalidFileException("it is truncated: " + size + " bytes, expected at least "
                    + (base + h.end()));
        }
        FileLayout layout = FileLayout.of(h.layout());
        // each page's CRC is taken right after it was read (in cache): no second pass over RAM for the digest
        PageCrcTable crcs = new PageCrcTable(ram.blocks());
        long normal = h.mappedRam() ? readMapped(ram, layout, h, ch, base, crcs) : readRecords(ram, layout, h, ch, base, crcs);
        ByteBuffer device = ByteBuffer.allocate((int) h.deviceLength());
        readFully(ch, device, base + h.deviceOffset(), base + h.end());
        CRC32C crc = new CRC32C();
        crc.update(device.array());
        if ((int) crc.getValue() != h.deviceCrc()) {
            throw new FileHeader.InvalidFileException("its device state checksum does not match (the file is corrupt)");
        }
        try {
            machine.loadDeviceState(device.flip());
        } catch (IllegalArgumentException e) {
            throw new FileHeader.InvalidFileException("its " + e.getMessage());
        }
        if (h.hasDigest() && !Arrays.equals(HexFormat.of().parseHex(crcs.digest()), h.digest())) {
            throw new FileHeader.InvalidFileException("the RAM read from it does not match the digest it was saved "
                    + "with (the file is corrupt)");
        }
        return new Restored(h.end(), normal, layout.totalPages() - normal);
    }

    private static long readMapped(GuestRam ram, FileLayout layout, FileHeader h, FileChannel ch, long base,
            PageCrcTable crcs) throws IOException, FileHeader.InvalidFileException {
        if (h.bitmapLength() != layout.bitmapLength() || h.pagesLength() != layout.totalPages() * RamBlock.PAGE_SIZE) {
            throw new FileHeader.InvalidFileException("its header is inconsistent");
        }
        ByteBuffer bb = ByteBuffer.allocate((int) h.bitmapLength()).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, bb, base + h.bitmapOffset(), base + h.end());
        long[] bitmap = new long[(int) (h.bitmapLength() / 8)];
        bb.flip().asLongBuffer().get(bitmap);
        long pagesAt = base + h.pagesOffset();
        PageChunks.run(ram.blocks(), layout, "file-restore-", (b, block, from, to, first) ->
                readRuns(b, block, from, to, first, bitmap, ch, pagesAt, base + h.end(), crcs));
        return Arrays.stream(bitmap).map(Long::bitCount).sum();
    }

    private static void readRuns(int b, RamBlock block, long from, long to, long first, long[] bitmap, FileChannel ch,
            long pagesAt, long end, PageCrcTable crcs) throws IOException {
        long p = from;
        while (p < to) {
            if (!isSet(bitmap, first + p)) {
                p++;
                continue;
            }
            long runStart = p;
            while (p < to && p - runStart < MAX_RUN_PAGES && isSet(bitmap, first + p)) {
                p++;
            }
            ByteBuffer target = block.loadTarget(runStart, p - runStart);
            readFully(ch, target, pagesAt + (first + runStart) * RamBlock.PAGE_SIZE, end);
            for (long q = runStart; q < p; q++) {
                crcs.record(b, q, block.page(q).asByteBuffer());
            }
        }
    }

    private static boolean isSet(long[] bitmap, long g) {
        return (bitmap[(int) (g >>> 6)] & (1L << (g & 63))) != 0;
    }

    private static long readRecords(GuestRam ram, FileLayout layout, FileHeader h, FileChannel ch, long base,
            PageCrcTable crcs) throws IOException, FileHeader.InvalidFileException {
        if (h.pagesLength() % FileLayout.RECORD_SIZE != 0) {
            throw new FileHeader.InvalidFileException("its page records are inconsistent");
        }
        List<RamBlock> blocks = ram.blocks();
        ByteBuffer buf = ByteBuffer.allocateDirect(256 * FileLayout.RECORD_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        long pos = base + h.pagesOffset();
        long end = pos + h.pagesLength();
        long count = 0;
        while (pos < end) {
            buf.clear().limit((int) Math.min(buf.capacity(), end - pos));
            readFully(ch, buf, pos, base + h.end());
            pos += buf.position();
            buf.flip();
            while (buf.hasRemaining()) {
                long g = buf.getLong();
                if (g < 0 || g >= layout.totalPages()) {
                    throw new FileHeader.InvalidFileException("it names page " + g + " of " + layout.totalPages()
                            + " (the file is corrupt)");
                }
                int b = blockOf(layout, g);
                long page = g - layout.firstPage()[b];
                ByteBuffer data = buf.slice(buf.position(), RamBlock.PAGE_SIZE);
                crcs.record(b, page, data);
                blocks.get(b).loadPage(page * RamBlock.PAGE_SIZE, data);
                buf.position(buf.position() + RamBlock.PAGE_SIZE);
                count++;
            }
        }
        return count;
    }

    private static int blockOf(FileLayout layout, long g) {
        long[] first = layout.firstPage();
        int b = first.length - 1;
        while (first[b] > g) {
            b--;
        }
        return b;
    }

    /** Fills {@code b} from {@code position}; the file ending first (before {@code end}) is a truncation. */
    private static void readFully(FileChannel ch, ByteBuffer b, long position, long end) throws IOException {
        long pos = position;
        while (b.hasRemaining()) {
            int n = ch.read(b, pos);
            if (n < 0) {
                throw new java.io.EOFException("the file ends at " + pos + ", before " + end + " (it is truncated)");
            }
            pos += n;
        }
    }

    private static String describe(List<GuestRam.BlockInfo> layout) {
        return layout.stream().map(b -> b.name() + "=" + b.size()).toList().toString();
    }
}
