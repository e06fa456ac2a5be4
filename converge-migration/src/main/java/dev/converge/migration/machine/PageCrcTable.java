package dev.converge.migration.machine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
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
 * (SHA-256 over the CRCs in block and page order: one pass over 1 MiB per GiB of RAM), so the
 * stopped window never reads the RAM itself. After the hand-over the source compares its frozen
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

    /** The JIT warm-up of {@link #digest}, once per JVM: done when it has ended. */
    private static final java.util.concurrent.CompletableFuture<Void> WARM = new java.util.concurrent.CompletableFuture<>();
    /** Set once the warm-up has been started. */
    private static final java.util.concurrent.atomic.AtomicBoolean WARMING = new java.util.concurrent.atomic.AtomicBoolean();
    /**
     * Pages of the dummy table the warm-up hashes (64 KiB), and how often: C2 has compiled the
     * SHA-256 path after about 40 rounds (0.3-0.5 s of one CPU on this machine under load).
     */
    private static final int WARM_UP_PAGES = 16 << 10;
    private static final int WARM_UP_ROUNDS = 60;

    private final List<String> names;
    private final int[][] crcs;

    private PageCrcTable(List<String> names, int[][] crcs) {
        this.names = names;
        this.crcs = crcs;
    }

    /**
     * Has the JIT compile {@link #digest} before a switchover needs it, on a background thread,
     * once per JVM. Interpreted, SHA-256 over a 1 GiB guest's table takes about 250 ms; compiled
     * (the CPU's SHA instructions) about 1 ms: the first digest of a daemon's life must not fall
     * into a stopped window. The destination calls it when it starts listening, the source when
     * a verified migration starts, and the source waits for it before it stops the vCPUs.
     *
     * @return done once the warm-up has ended (the same future for every caller)
     */
    public static java.util.concurrent.CompletableFuture<Void> warmUp() {
        if (WARMING.compareAndSet(false, true)) {
            Thread.ofPlatform().daemon().name("page-crc-digest-warm-up").start(() -> {
                try {
                    PageCrcTable t = new PageCrcTable(List.of("warm-up"), new int[][] {new int[WARM_UP_PAGES]});
                    for (int i = 0; i < WARM_UP_ROUNDS; i++) {
                        t.digest();
                    }
                } finally {
                    WARM.complete(null);
                }
            });
        }
        return WARM;
    }

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

    /** Page {@code page} of block {@code block} was sent or received as a zero page. */
    public void recordZero(int block, long page) {
        crcs[block][(int) page] = ZERO_PAGE_CRC;
    }

    /** The CRC recorded for a page. */
    public int get(int block, long page) {
        return crcs[block][(int) page];
    }

    /** SHA-256 over the CRCs in block and page order, 64 lowercase hex digits: equal tables, equal digests. */
    public String digest() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            ByteBuffer buf = ByteBuffer.allocate(64 << 10).order(ByteOrder.LITTLE_ENDIAN);
            for (int[] block : crcs) {
                for (int from = 0; from < block.length; ) {
                    int n = Math.min(block.length - from, buf.clear().remaining() / Integer.BYTES);
                    buf.asIntBuffer().put(block, from, n);
                    md.update(buf.limit(n * Integer.BYTES));
                    from += n;
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
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
