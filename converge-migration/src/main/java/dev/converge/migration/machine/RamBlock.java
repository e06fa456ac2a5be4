package dev.converge.migration.machine;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * One named block of guest RAM (QEMU's RAMBlock): off-heap memory of a whole number of
 * 4 KiB pages plus its {@link DirtyLog}.
 * <p>
 * The guest write path is {@link #write(long, byte)} and {@link #writeLong(long, long)}: they
 * store the data, then mark the page dirty. Every guest write goes through them. The incoming
 * side of a migration fills a stopped destination with {@link #loadPage}, which is not a guest
 * write and marks nothing. The memory itself is thread-safe only in the sense that torn pages
 * are harmless: any page written while it is being copied is marked again and copied again.
 */
public final class RamBlock {
    /** Size of a guest page, and the unit of dirty tracking and migration. */
    public static final int PAGE_SIZE = 4096;
    /** log2(PAGE_SIZE). */
    public static final int PAGE_SHIFT = 12;

    private final String name;
    private final MemorySegment memory;
    private final DirtyLog dirtyLog;
    /**
     * The postcopy destination's gate, null outside postcopy. A plain field on purpose: it is
     * set while the vCPUs are stopped (their resume publishes it) and cleared while they run,
     * when a vCPU that still sees the old gate finds every page arrived, which is as correct.
     */
    private PageGate gate;

    RamBlock(String name, MemorySegment memory) {
        this.name = Objects.requireNonNull(name);
        if (memory.byteSize() % PAGE_SIZE != 0) {
            throw new IllegalArgumentException("RAM block '" + name + "' size " + memory.byteSize()
                    + " is not a multiple of the page size " + PAGE_SIZE);
        }
        this.memory = memory;
        this.dirtyLog = new DirtyLog(memory.byteSize() >>> PAGE_SHIFT);
    }

    /** The block's name, e.g. "pc.ram"; identifies it on the migration stream. */
    public String name() {
        return name;
    }

    /** Size in bytes, a multiple of {@link #PAGE_SIZE}. */
    public long size() {
        return memory.byteSize();
    }

    /** Number of pages. */
    public long pages() {
        return memory.byteSize() >>> PAGE_SHIFT;
    }

    /** The dirty log (for tests and diagnostics; the migration uses {@link GuestRam#syncDirtyLog}). */
    public DirtyLog dirtyLog() {
        return dirtyLog;
    }

    /**
     * Makes every guest access ({@link #write}, {@link #writeLong}, {@link #read}) first wait in
     * {@code g} for its page (a postcopy destination); null removes it. Set it only while the
     * vCPUs are stopped; removing it is allowed while they run.
     */
    public void setPageGate(PageGate g) {
        gate = g;
    }

    /** Guest write of one byte: stores it, then marks its page dirty. */
    public void write(long offset, byte value) {
        PageGate g = gate;
        if (g != null) {
            g.awaitPage(offset >>> PAGE_SHIFT);
        }
        memory.set(ValueLayout.JAVA_BYTE, offset, value);
        dirtyLog.mark(offset >>> PAGE_SHIFT);
    }

    /** Guest write of one aligned 8-byte word: stores it, then marks its page dirty. */
    public void writeLong(long offset, long value) {
        PageGate g = gate;
        if (g != null) {
            g.awaitPage(offset >>> PAGE_SHIFT);
        }
        memory.set(ValueLayout.JAVA_LONG_UNALIGNED, offset, value);
        dirtyLog.mark(offset >>> PAGE_SHIFT);
    }

    /** Reads one byte (guest or test read; no effect on the dirty log). */
    public byte read(long offset) {
        PageGate g = gate;
        if (g != null) {
            g.awaitPage(offset >>> PAGE_SHIFT);
        }
        return memory.get(ValueLayout.JAVA_BYTE, offset);
    }

    /** A read-only view of one page, for the migration sender. */
    public MemorySegment page(long page) {
        return memory.asSlice(page << PAGE_SHIFT, PAGE_SIZE).asReadOnly();
    }

    /** A read-only view of {@code count} pages from {@code first}, for a sender that writes runs of pages. */
    public MemorySegment pages(long first, long count) {
        return memory.asSlice(first << PAGE_SHIFT, count << PAGE_SHIFT).asReadOnly();
    }

    /**
     * The memory of {@code count} pages from {@code first}, to be filled in place (a file restore
     * reads straight into RAM); the pages count as written, not dirtied, as {@link #loadPage}.
     */
    public java.nio.ByteBuffer loadTarget(long first, long count) {
        for (long p = first; p < first + count; p++) {
            dirtyLog.markWritten(p);
        }
        return memory.asSlice(first << PAGE_SHIFT, count << PAGE_SHIFT).asByteBuffer();
    }

    /** Whether a page holds only zero bytes. */
    public boolean isZeroPage(long page) {
        return MemorySegment.mismatch(memory, page << PAGE_SHIFT, (page + 1) << PAGE_SHIFT,
                ZeroPage.SEGMENT, 0, PAGE_SIZE) == -1;
    }

    /**
     * Fills one page from {@code src} (its remaining bytes, exactly one page) without marking it:
     * the incoming side of a migration on a stopped destination.
     */
    public void loadPage(long offset, ByteBuffer src) {
        if (src.remaining() != PAGE_SIZE) {
            throw new IllegalArgumentException("page data: " + src.remaining() + " bytes (expected: " + PAGE_SIZE + ")");
        }
        MemorySegment.copy(MemorySegment.ofBuffer(src), 0, memory, offset, PAGE_SIZE);
        dirtyLog.markWritten(offset >>> PAGE_SHIFT);
    }

    /**
     * Makes one page zero without marking it dirty (incoming zero page marker). A page never
     * written is left alone: it is zero already, and reading is cheaper than writing 4 KiB.
     */
    public void loadZeroPage(long offset) {
        long page = offset >>> PAGE_SHIFT;
        if (dirtyLog.everWritten(page) && !isZeroPage(page)) {
            memory.asSlice(offset, PAGE_SIZE).fill((byte) 0);
        }
    }

    /** Zeros the whole block without marking it (a destination discarding a failed incoming). */
    void clear() {
        memory.fill((byte) 0);
        dirtyLog.forgetWritten();
    }

    MemorySegment memory() {
        return memory;
    }

    /** The shared all-zero page used for zero-page detection. */
    static final class ZeroPage {
        static final MemorySegment SEGMENT = MemorySegment.ofArray(new byte[PAGE_SIZE]);

        private ZeroPage() {
        }
    }
}
