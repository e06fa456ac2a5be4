package dev.converge.migration.machine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.IntStream;
import java.util.zip.CRC32C;

/**
 * The CRC32C of every page of a machine's RAM as one side of a verified migration last saw it:
 * the source records each page where it encodes it for the stream, the destination where it
 * decodes it. At the switchover the two tables are compared through their {@link #digest()}
 * (CRC32C over the table's 1 MiB per GiB of RAM, about 0.1 ms per GiB), so the stopped window
 * never reads the RAM itself. After the hand-over the source compares its frozen
 * RAM with its table ({@link #mismatches}): a page that differs changed after it was last sent
 * without the dirty log marking it, and the destination runs with the older copy.
 * <p>
 * Both sides start with every page at {@link #ZERO_PAGE_CRC}: the destination starts zeroed and
 * the source never sends a page that was never written (it is zero on both sides).
 * <p>
 * Threads: {@link #record} may be called by several threads at once for distinct pages (multifd
 * channels); whoever reads the table ({@link #digest}, {@link #mismatches}) must be ordered after
 * every recorder by a happens-before edge (the channels' sync point, a thread join).
 */
public final class PageCrcTable {
    /** CRC32C of a page of zeros: every page a destination has not been sent (it starts zeroed). */
    public static final int ZERO_PAGE_CRC = crc(ByteBuffer.allocate(RamBlock.PAGE_SIZE));

    /** One page whose RAM differs from the table. */
    public record Mismatch(String block, long offset) {
        @Override
        public String toString() {
            return "'" + block + "' offset 0x" + Long.toHexString(offset);
        }
    }

    /** Digest lanes: CRC32Cs over consecutive parts of the table. */
    static final int LANES = 8;

    private final List<String> names;
    private final int[][] crcs;

    /** A table for {@code blocks} with every page zero. */
    public PageCrcTable(List<RamBlock> blocks) {
        names = blocks.stream().map(RamBlock::name).toList();
        crcs = new int[blocks.size()][];
        for (int b = 0; b < blocks.size(); b++) {
            crcs[b] = new int[Math.toIntExact(blocks.get(b).pages())];
            Arrays.fill(crcs[b], ZERO_PAGE_CRC);
        }
    }

    /** CRC32C of {@code page}'s remaining bytes (position unchanged). */
    public static int crc(ByteBuffer page) {
        CRC32C c = new CRC32C();
        c.update(page.duplicate());
        return (int) c.getValue();
    }

    /** A table of {@code ram} as it is now, scanned (pages in parallel; consistent only while nothing writes it). */
    public static PageCrcTable scan(GuestRam ram) {
        PageCrcTable t = new PageCrcTable(ram.blocks());
        for (int b = 0; b < t.crcs.length; b++) {
            RamBlock block = ram.blocks().get(b);
            int[] c = t.crcs[b];
            IntStream.range(0, c.length).parallel().forEach(p -> c[p] = crc(block.page(p).asByteBuffer()));
        }
        return t;
    }

    /** Page {@code page} of block {@code block} was sent or received with these bytes; returns their CRC. */
    public int record(int block, long page, ByteBuffer data) {
        int c = crc(data);
        crcs[block][(int) page] = c;
        return c;
    }

    /** Page {@code page} of block {@code block} was sent or received with bytes whose CRC32C is {@code crc}. */
    public void set(int block, long page, int crc) {
        crcs[block][(int) page] = crc;
    }

    /** Page {@code page} of block {@code block} was sent or received as a zero page. */
    public void recordZero(int block, long page) {
        crcs[block][(int) page] = ZERO_PAGE_CRC;
    }

    /** The CRC recorded for a page. */
    public int get(int block, long page) {
        return crcs[block][(int) page];
    }

    /**
     * The table's digest, 64 lowercase hex digits (32 bytes): the CRC32C of each of
     * {@value #LANES} consecutive parts of the table (the CRCs in block and page order, 4 bytes
     * little-endian each; part k holds the pages [k·n/8, (k+1)·n/8) of n), each little-endian.
     * Equal tables give equal digests. A differing page changes its part's CRC32C always (a
     * 32-bit burst), several in one part fail to with probability about 2^-32: this detects
     * faults, it does not resist forgery (that is TLS's job). CRC32C and not a cryptographic
     * hash because it is fast from the first call (the JVM's interpreter has it as an intrinsic;
     * SHA-256 runs interpreted until the JIT compiles it, about 250 ms per GiB of RAM): about
     * 0.1 ms per GiB, in the stopped window on both sides.
     */
    public String digest() {
        long total = 0;
        for (int[] block : crcs) {
            total += block.length;
        }
        ByteBuffer out = ByteBuffer.allocate(LANES * Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer buf = ByteBuffer.allocate(64 << 10).order(ByteOrder.LITTLE_ENDIAN);
        CRC32C lane = new CRC32C();
        int k = 0;
        long laneEnd = total / LANES;
        long at = 0; // pages of the table digested so far
        for (int[] block : crcs) {
            for (int from = 0; from < block.length; ) {
                while (at == laneEnd && k < LANES - 1) {
                    out.putInt((int) lane.getValue());
                    lane.reset();
                    k++;
                    laneEnd = total * (k + 1) / LANES;
                }
                int n = (int) Math.min(Math.min(block.length - from, laneEnd - at), buf.capacity() / Integer.BYTES);
                buf.clear().asIntBuffer().put(block, from, n);
                lane.update(buf.limit(n * Integer.BYTES));
                from += n;
                at += n;
            }
        }
        while (out.hasRemaining()) {
            out.putInt((int) lane.getValue());
            lane.reset();
        }
        return HexFormat.of().formatHex(out.array());
    }

    /**
     * The pages whose bytes in {@code ram} (same layout) differ from the table, in block and page
     * order, at most {@code limit} of them; the count of all is {@link Mismatches#count}. Reads
     * every page on the calling thread (one core, about 250 ms per GiB here): meant for stopped
     * RAM, in the background, where it should not take the CPUs from a guest that now runs on the
     * destination (on the same host, in tests and benchmarks).
     */
    public Mismatches mismatches(GuestRam ram, int limit) {
        List<Mismatch> first = new ArrayList<>();
        long count = 0;
        for (int b = 0; b < crcs.length; b++) {
            RamBlock block = ram.blocks().get(b);
            int[] c = crcs[b];
            long[] bad = IntStream.range(0, c.length)
                    .filter(p -> crc(block.page(p).asByteBuffer()) != c[p]).asLongStream().toArray();
            count += bad.length;
            for (int i = 0; i < bad.length && first.size() < limit; i++) {
                first.add(new Mismatch(names.get(b), bad[i] << RamBlock.PAGE_SHIFT));
            }
        }
        return new Mismatches(count, List.copyOf(first));
    }

    /** {@code count} pages differ; {@code first} names the first few. */
    public record Mismatches(long count, List<Mismatch> first) {
    }
}
