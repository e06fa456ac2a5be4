package dev.converge.bench.migration;

import java.util.HexFormat;

/**
 * The boot sector QEMU runs for the migration benchmark: the bytes assembled from
 * {@code src/main/resources/dev/converge/bench/migration/guest-boot.S} (see that file for what
 * the code does and how to rebuild it; {@code GuestImageTest} checks that these bytes are what
 * the source assembles to). One image serves both workloads: {@link #forWorkload} patches the
 * 32-bit little-endian word at {@link #RAM_END_OFFSET} with the end of the range the guest
 * increments ({@code pattern}) or leaves it zero, which makes the guest halt ({@code idle}).
 */
public final class GuestImage {
    /** A boot sector's size: the BIOS loads exactly this much at 0x7C00. */
    public static final int SIZE = 512;
    /** Byte offset of the patched word {@code ram_end} (label in guest-boot.S). */
    public static final int RAM_END_OFFSET = 0x1f8;
    /** Start of the range the pattern guest writes: 1 MiB, above the BIOS and this code. */
    public static final long PATTERN_START = 1L << 20;
    /**
     * Highest {@code ram_end}: QEMU's pc machine maps guest RAM contiguously below 4 GiB only
     * up to 3.5 GiB; the rest goes above 4 GiB, which this 32-bit guest without paging does not reach.
     */
    public static final long MAX_RAM_END = 0xE000_0000L;
    /** Guest page size: the pattern guest writes one byte per page. */
    public static final int PAGE_SIZE = 4096;

    /** guest-boot.S assembled: 0x80 bytes of code and GDT; the rest of the sector is zero but the signature. */
    private static final String CODE_HEX = ""
            + "fafc31c08ed88ed0bc007ce4920c0224fee692660f0116787c0f20c06683c801"
            + "0f22c066ea2b7c0000080066b810008ed88ec08ed08ee08ee8bc007c00008b0d"
            + "f87d000085c97413bb00001000fe0381c30010000039cb72f4ebedf4ebfd6690"
            + "0000000000000000ffff0000009acf00ffff00000092cf001700607c00000000";

    private GuestImage() {
    }

    /** The image as assembled: {@code ram_end} zero, so it is the idle guest. */
    public static byte[] assembled() {
        byte[] code = HexFormat.of().parseHex(CODE_HEX);
        byte[] image = new byte[SIZE];
        System.arraycopy(code, 0, image, 0, code.length);
        image[510] = 0x55;
        image[511] = (byte) 0xaa;
        return image;
    }

    /**
     * The image for {@code workload} in a guest of {@code memory} bytes. The pattern guest writes
     * pages from {@link #PATTERN_START} up to {@code memory} (all of a pc machine's low RAM).
     *
     * @throws IllegalArgumentException when {@code memory} is not a multiple of 4 KiB above 1 MiB
     *         and at most {@link #MAX_RAM_END} (for pattern; idle takes any size QEMU takes)
     */
    public static byte[] forWorkload(Workload workload, long memory) {
        byte[] image = assembled();
        if (workload == Workload.PATTERN) {
            if (memory <= PATTERN_START || memory > MAX_RAM_END || memory % PAGE_SIZE != 0) {
                throw new IllegalArgumentException("memory: " + memory + " (expected: a multiple of " + PAGE_SIZE
                        + " in " + (PATTERN_START + PAGE_SIZE) + ".." + MAX_RAM_END + " for the pattern guest)");
            }
            patchRamEnd(image, memory);
        }
        return image;
    }

    /** The {@code ram_end} word of {@code image}. */
    public static long ramEnd(byte[] image) {
        return (image[RAM_END_OFFSET] & 0xffL) | (image[RAM_END_OFFSET + 1] & 0xffL) << 8
                | (image[RAM_END_OFFSET + 2] & 0xffL) << 16 | (image[RAM_END_OFFSET + 3] & 0xffL) << 24;
    }

    private static void patchRamEnd(byte[] image, long end) {
        // x86 is little-endian; the guest loads the word with one movl.
        for (int i = 0; i < 4; i++) {
            image[RAM_END_OFFSET + i] = (byte) (end >>> (8 * i));
        }
    }
}
