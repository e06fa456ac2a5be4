package dev.converge.migration.file;

import dev.converge.migration.machine.GuestRam;
import dev.converge.migration.machine.RamBlock;
import java.util.List;

/**
 * Where things go in a migration file of a given RAM layout (offsets relative to the start
 * offset): the header, then with mapped-ram the page bitmap and the page region (aligned to
 * {@value #PAGES_ALIGNMENT} bytes, page g at a fixed place), or without it the page records; the
 * device state last.
 *
 * @param totalPages pages of all blocks
 * @param firstPage  for each block, the index of its first page in the file's page numbering
 */
record FileLayout(long totalPages, long[] firstPage) {
    /** Alignment of the mapped page region: large holes and aligned I/O. */
    static final long PAGES_ALIGNMENT = 1 << 20;
    /** Bytes of one page record without mapped-ram: u64 page index, then the page. */
    static final int RECORD_SIZE = 8 + RamBlock.PAGE_SIZE;

    static FileLayout of(List<GuestRam.BlockInfo> layout) {
        long[] first = new long[layout.size()];
        long total = 0;
        for (int i = 0; i < layout.size(); i++) {
            first[i] = total;
            total += layout.get(i).size() / RamBlock.PAGE_SIZE;
        }
        return new FileLayout(total, first);
    }

    static long bitmapOffset() {
        return FileHeader.SIZE;
    }

    /** Bytes of the mapped-ram bitmap: a bit per page, in whole longs. */
    long bitmapLength() {
        return (totalPages + 63) / 64 * 8;
    }

    /** Where the mapped page region starts. */
    long mappedPagesOffset() {
        return align(bitmapOffset() + bitmapLength(), PAGES_ALIGNMENT);
    }

    static long align(long v, long to) {
        return (v + to - 1) / to * to;
    }
}
