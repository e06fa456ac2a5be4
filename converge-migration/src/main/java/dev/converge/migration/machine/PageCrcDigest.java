package dev.converge.migration.machine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.IntStream;
import java.util.zip.CRC32C;

/**
 * The RAM digest a verified migration compares at the switchover: the CRC32C of every page, in
 * block and page order, hashed with SHA-256 (64 hex digits). It covers the same bytes as
 * {@code query-machine-digest}'s RAM digest, at a cost that fits in the downtime: the source
 * computes it from its stopped RAM with CRC32C (a CPU instruction; the pages in parallel), the
 * destination keeps every page's CRC as it applies the page ({@link Tracker}), so its side costs
 * one SHA-256 over 1 KiB of CRCs per MiB of RAM. A plain SHA-256 of all RAM, computed on both
 * sides in the downtime, added seconds per GiB (docs/reliability.md).
 */
public final class PageCrcDigest {
    /** CRC32C of a page of zeros: every page a destination has not been sent (it starts zeroed). */
    public static final int ZERO_PAGE_CRC = crc(ByteBuffer.allocate(RamBlock.PAGE_SIZE));

    private PageCrcDigest() {
    }

    /** CRC32C of {@code page}'s remaining bytes (position unchanged). */
    public static int crc(ByteBuffer page) {
        CRC32C c = new CRC32C();
        c.update(page.duplicate());
        return (int) c.getValue();
    }

    /** The digest of {@code ram} as it is now (consistent only while nothing writes it: vCPUs stopped). */
    public static String of(GuestRam ram) {
        List<RamBlock> blocks = ram.blocks();
        int[][] crcs = new int[blocks.size()][];
        for (int b = 0; b < blocks.size(); b++) {
            RamBlock block = blocks.get(b);
            int[] c = new int[Math.toIntExact(block.pages())];
            IntStream.range(0, c.length).parallel().forEach(p -> c[p] = crc(block.page(p).asByteBuffer()));
            crcs[b] = c;
        }
        return hash(crcs);
    }

    /**
     * The digest of per-page CRCs gathered elsewhere (a writer that reads every page anyway):
     * {@code crcs[b][p]} is page p of block b, {@link #ZERO_PAGE_CRC} for a zero page.
     */
    public static String ofCrcs(int[][] crcs) {
        return hash(crcs);
    }

    /** Per-page CRCs for {@code blocks}, every page's set to {@link #ZERO_PAGE_CRC} (filled in as pages are read). */
    public static int[][] zeroCrcs(List<RamBlock> blocks) {
        int[][] crcs = new int[blocks.size()][];
        for (int b = 0; b < blocks.size(); b++) {
            crcs[b] = new int[Math.toIntExact(blocks.get(b).pages())];
            java.util.Arrays.fill(crcs[b], ZERO_PAGE_CRC);
        }
        return crcs;
    }

    private static String hash(int[][] crcs) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            ByteBuffer buf = ByteBuffer.allocate(64 << 10).order(ByteOrder.LITTLE_ENDIAN);
            for (int[] block : crcs) {
                for (int crc : block) {
                    if (!buf.hasRemaining()) {
                        md.update(buf.flip());
                        buf.clear();
                    }
                    buf.putInt(crc);
                }
            }
            md.update(buf.flip());
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    /**
     * The destination's side: every page's CRC, kept as pages are applied, starting from a
     * zeroed RAM. Confined to the receiving thread.
     */
    public static final class Tracker {
        private final int[][] crcs;

        /** For {@code blocks} as they are at the start of an incoming migration: zeroed. */
        public Tracker(List<RamBlock> blocks) {
            crcs = zeroCrcs(blocks);
        }

        /** Page at {@code offset} of block {@code b} now holds what {@code block} shows there (read back after the apply). */
        public void applied(int b, RamBlock block, long offset) {
            long page = offset >>> RamBlock.PAGE_SHIFT;
            crcs[b][(int) page] = crc(block.page(page).asByteBuffer());
        }

        /** Page at {@code offset} of block {@code b} was zeroed. */
        public void zeroed(int b, long offset) {
            crcs[b][(int) (offset >>> RamBlock.PAGE_SHIFT)] = ZERO_PAGE_CRC;
        }

        /** The digest of what was applied ({@link PageCrcDigest#of} of the same RAM). */
        public String digest() {
            return hash(crcs);
        }
    }
}
