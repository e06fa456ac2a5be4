package dev.converge.migration.file;

import dev.converge.migration.machine.GuestRam;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.zip.CRC32C;

/**
 * The header of a converge migration file: the first {@value #SIZE} bytes at the file's start
 * offset, written last (so a save cut short leaves no valid header). A pure codec, tested with
 * byte vectors; every offset is relative to the start offset. Little-endian:
 * <pre>
 *  0   magic "CVMF"
 *  4   u32 version (1)
 *  8   u32 flags: 1 mapped-ram, 2 RAM digest present
 *  12  u32 page size (4096)
 *  16  u64 RAM bytes (all blocks)
 *  24  u64 bitmap offset   (mapped-ram: one bit per page, set = the page is in the file)
 *  32  u64 bitmap length
 *  40  u64 pages offset    (mapped-ram: page g at pages offset + g × page size; else records
 *                           [u64 g][page] of the non-zero pages, in order)
 *  48  u64 pages length
 *  56  u64 device state offset
 *  64  u64 device state length
 *  72  u32 CRC32C of the device state
 *  76  u32 RAM block count
 *  80  32 bytes: the digest of the per-page CRC32Cs (PageCrcTable), zeros when absent
 *  112 blocks: u16 name length, the name (UTF-8), u64 size
 *  4092 u32 CRC32C of bytes 0..4091
 * </pre>
 * Page index g counts over the RAM blocks in order.
 *
 * @param flags            {@link #MAPPED_RAM}, {@link #DIGEST}
 * @param ramBytes         bytes of RAM
 * @param bitmapOffset     where the page bitmap starts (mapped-ram), else 0
 * @param bitmapLength     its length, else 0
 * @param pagesOffset      where the pages start
 * @param pagesLength      their length
 * @param deviceOffset     where the device state starts
 * @param deviceLength     its length
 * @param deviceCrc        CRC32C of the device state
 * @param layout           the RAM blocks
 * @param digest           the RAM digest, 32 bytes (zeros without {@link #DIGEST})
 */
public record FileHeader(int flags, long ramBytes, long bitmapOffset, long bitmapLength, long pagesOffset,
        long pagesLength, long deviceOffset, long deviceLength, int deviceCrc, List<GuestRam.BlockInfo> layout,
        byte[] digest) {
    /** Bytes the header takes (one page). */
    public static final int SIZE = 4096;
    /** "CVMF". */
    static final byte[] MAGIC = {'C', 'V', 'M', 'F'};
    static final int VERSION = 1;
    public static final int MAPPED_RAM = 1;
    public static final int DIGEST = 2;
    static final int PAGE_SIZE = 4096;
    private static final int BLOCKS_AT = 112;
    private static final int CRC_AT = SIZE - 4;

    public FileHeader {
        layout = List.copyOf(layout);
        Objects.requireNonNull(digest);
        if (digest.length != 32) {
            throw new IllegalArgumentException("digest: " + digest.length + " bytes (expected: 32)");
        }
    }

    public boolean mappedRam() {
        return (flags & MAPPED_RAM) != 0;
    }

    public boolean hasDigest() {
        return (flags & DIGEST) != 0;
    }

    /** Where the file's content ends (the device state's end). */
    public long end() {
        return deviceOffset + deviceLength;
    }

    /** The header as {@value #SIZE} bytes. */
    public ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(VERSION).putInt(flags).putInt(PAGE_SIZE).putLong(ramBytes).putLong(bitmapOffset)
                .putLong(bitmapLength).putLong(pagesOffset).putLong(pagesLength).putLong(deviceOffset)
                .putLong(deviceLength).putInt(deviceCrc).putInt(layout.size()).put(digest);
        for (GuestRam.BlockInfo blk : layout) {
            byte[] name = blk.name().getBytes(StandardCharsets.UTF_8);
            if (b.position() + 2 + name.length + 8 > CRC_AT) {
                throw new IllegalArgumentException("RAM layout does not fit in a migration file header");
            }
            b.putShort((short) name.length).put(name).putLong(blk.size());
        }
        b.putInt(CRC_AT, crc(b.array(), CRC_AT));
        return b.clear();
    }

    /**
     * Reads a header.
     *
     * @throws InvalidFileException naming what is wrong: not a converge file, its checksum, version or page size
     */
    public static FileHeader decode(ByteBuffer src) throws InvalidFileException {
        if (src.remaining() < SIZE) {
            throw new InvalidFileException("it is shorter than a header (" + src.remaining() + " bytes)");
        }
        ByteBuffer b = src.slice(src.position(), SIZE).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[4];
        b.get(magic);
        if (!Arrays.equals(magic, MAGIC)) {
            throw new InvalidFileException("it is not a converge migration file (no CVMF header)");
        }
        byte[] all = new byte[SIZE];
        b.get(0, all);
        int stored = b.getInt(CRC_AT);
        if (crc(all, CRC_AT) != stored) {
            throw new InvalidFileException("its header checksum does not match (the file is corrupt)");
        }
        int version = b.getInt();
        if (version != VERSION) {
            throw new InvalidFileException("its version is " + version + " (this converge reads " + VERSION + ")");
        }
        int flags = b.getInt();
        if ((flags & ~(MAPPED_RAM | DIGEST)) != 0) {
            throw new InvalidFileException("its flags " + flags + " are unknown");
        }
        int pageSize = b.getInt();
        if (pageSize != PAGE_SIZE) {
            throw new InvalidFileException("its page size is " + pageSize + " (expected: " + PAGE_SIZE + ")");
        }
        long ram = b.getLong();
        long bitmapOffset = b.getLong();
        long bitmapLength = b.getLong();
        long pagesOffset = b.getLong();
        long pagesLength = b.getLong();
        long deviceOffset = b.getLong();
        long deviceLength = b.getLong();
        int deviceCrc = b.getInt();
        int blocks = b.getInt();
        byte[] digest = new byte[32];
        b.get(digest);
        if (blocks < 0 || blocks > 64) {
            throw new InvalidFileException("its block count " + blocks + " is out of range");
        }
        List<GuestRam.BlockInfo> layout = new ArrayList<>();
        for (int i = 0; i < blocks; i++) {
            int len = Short.toUnsignedInt(b.getShort());
            if (b.position() + len + 8 > CRC_AT) {
                throw new InvalidFileException("its RAM layout overruns the header");
            }
            byte[] name = new byte[len];
            b.get(name);
            layout.add(new GuestRam.BlockInfo(new String(name, StandardCharsets.UTF_8), b.getLong()));
        }
        long sum = layout.stream().mapToLong(GuestRam.BlockInfo::size).sum();
        if (sum != ram || deviceLength < 0 || deviceLength > (64 << 20) || pagesOffset < SIZE || deviceOffset < SIZE) {
            throw new InvalidFileException("its header is inconsistent");
        }
        return new FileHeader(flags, ram, bitmapOffset, bitmapLength, pagesOffset, pagesLength, deviceOffset,
                deviceLength, deviceCrc, layout, digest);
    }

    static int crc(byte[] bytes, int length) {
        CRC32C c = new CRC32C();
        c.update(bytes, 0, length);
        return (int) c.getValue();
    }

    /** A file that cannot be restored; the message says why ("it is not a converge migration file ..."). */
    public static final class InvalidFileException extends Exception {
        private static final long serialVersionUID = 1L;

        public InvalidFileException(String message) {
            super(message);
        }
    }
}
