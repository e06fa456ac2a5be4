package dev.converge.block.driver.qcow2;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The qcow2 bitmaps header extension and bitmap directory (docs/interop/qcow2.txt, "Bitmaps"),
 * as pure codecs tested with byte vectors. All numbers big-endian.
 *
 * <pre>
 * extension (type 0x23852875, 24 bytes): nb_bitmaps u32, reserved u32, directory_size u64,
 *                                         directory_offset u64
 * directory entry: table_offset u64, table_size u32, flags u32 (in_use 1, auto 2,
 *                  extra_data_compatible 4), type u8 (1 = dirty tracking), granularity_bits u8,
 *                  name_size u16, extra_data_size u32, extra data, name, zero padding to 8
 * table entry:     bits 9-55 the data cluster's offset; 0 with bit 0 clear: all zeroes, set: all ones
 * data:            bit (byte_nr / granularity) of the bitmap is bit (n % 8) of byte n / 8
 * </pre>
 */
final class Qcow2BitmapDirectory {
    static final int FLAG_IN_USE = 1;
    static final int FLAG_AUTO = 1 << 1;
    static final int FLAG_EXTRA_DATA_COMPATIBLE = 1 << 2;
    static final int TYPE_DIRTY_TRACKING = 1;
    static final int EXTENSION_SIZE = 24;
    static final int ENTRY_HEADER_SIZE = 24;
    /** QEMU's limits (qcow2.h, qcow2-bitmap.c). */
    static final int MAX_BITMAPS = 65535;
    static final long MAX_DIRECTORY_SIZE = 1024L * MAX_BITMAPS;
    static final int MAX_NAME_SIZE = 1023;
    static final int MIN_GRANULARITY_BITS = 9;
    static final int MAX_GRANULARITY_BITS = 31;
    static final long MAX_TABLE_SIZE = 0x8000000;
    static final long TABLE_OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;
    static final long TABLE_ALL_ONES = 1;

    private Qcow2BitmapDirectory() {
    }

    /** The bitmaps header extension's data. */
    record Extension(int nbBitmaps, long directorySize, long directoryOffset) {
        static Extension parse(ByteBuffer data) throws Qcow2Header.FormatException {
            ByteBuffer b = data.duplicate().order(ByteOrder.BIG_ENDIAN);
            if (b.remaining() < EXTENSION_SIZE) {
                throw new Qcow2Header.FormatException("Invalid bitmaps extension: " + b.remaining() + " bytes");
            }
            int p = b.position();
            return new Extension(b.getInt(p), b.getLong(p + 8), b.getLong(p + 16));
        }

        byte[] encode() {
            return ByteBuffer.allocate(EXTENSION_SIZE).order(ByteOrder.BIG_ENDIAN).putInt(nbBitmaps).putInt(0)
                    .putLong(directorySize).putLong(directoryOffset).array();
        }
    }

    /** One bitmap directory entry. */
    record Entry(long tableOffset, int tableSize, int flags, int type, int granularityBits, String name,
            byte[] extraData) {
        boolean inUse() {
            return (flags & FLAG_IN_USE) != 0;
        }

        boolean auto() {
            return (flags & FLAG_AUTO) != 0;
        }

        Entry withFlags(int f) {
            return new Entry(tableOffset, tableSize, f, type, granularityBits, name, extraData);
        }

        /** Bytes this entry takes in the directory, padding included. */
        int size() {
            return entrySize(name.getBytes(StandardCharsets.UTF_8).length, extraData.length);
        }
    }

    static int entrySize(int nameBytes, int extraBytes) {
        return (ENTRY_HEADER_SIZE + extraBytes + nameBytes + 7) & ~7;
    }

    /** Parses {@code nbBitmaps} entries filling {@code dir} exactly. */
    static List<Entry> parse(ByteBuffer dir, int nbBitmaps) throws Qcow2Header.FormatException {
        ByteBuffer b = dir.duplicate().order(ByteOrder.BIG_ENDIAN);
        List<Entry> out = new ArrayList<>();
        int pos = b.position();
        int end = b.limit();
        while (pos < end) {
            if (pos + ENTRY_HEADER_SIZE > end) {
                throw new Qcow2Header.FormatException("Broken bitmap directory");
            }
            if (out.size() >= nbBitmaps) {
                throw new Qcow2Header.FormatException("More bitmaps found than specified in header extension");
            }
            long tableOffset = b.getLong(pos);
            int tableSize = b.getInt(pos + 8);
            int flags = b.getInt(pos + 12);
            int type = Byte.toUnsignedInt(b.get(pos + 16));
            int granularityBits = Byte.toUnsignedInt(b.get(pos + 17));
            int nameSize = Short.toUnsignedInt(b.getShort(pos + 18));
            int extraSize = b.getInt(pos + 20);
            if (extraSize < 0 || nameSize == 0 || pos + entrySize(nameSize, extraSize) > end) {
                throw new Qcow2Header.FormatException("Broken bitmap directory");
            }
            byte[] extra = new byte[extraSize];
            b.get(pos + ENTRY_HEADER_SIZE, extra);
            byte[] name = new byte[nameSize];
            b.get(pos + ENTRY_HEADER_SIZE + extraSize, name);
            out.add(new Entry(tableOffset, tableSize, flags, type, granularityBits,
                    new String(name, StandardCharsets.UTF_8), extra));
            pos += entrySize(nameSize, extraSize);
        }
        if (out.size() != nbBitmaps) {
            throw new Qcow2Header.FormatException("Less bitmaps found than specified in header extension");
        }
        return out;
    }

    /** The directory holding {@code entries}, in order. */
    static ByteBuffer encode(List<Entry> entries) {
        int size = entries.stream().mapToInt(Entry::size).sum();
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.BIG_ENDIAN);
        for (Entry e : entries) {
            byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
            int start = b.position();
            b.putLong(e.tableOffset()).putInt(e.tableSize()).putInt(e.flags()).put((byte) e.type())
                    .put((byte) e.granularityBits()).putShort((short) name.length).putInt(e.extraData().length)
                    .put(e.extraData()).put(name);
            b.position(start + e.size()); // zero padding (the buffer starts zeroed)
        }
        return b.flip();
    }

    /** Why a directory entry cannot be used as a dirty bitmap of a disk of {@code diskSize}, or null. */
    static String problem(Entry e, long diskSize, long clusterSize) {
        if (e.type() != TYPE_DIRTY_TRACKING) {
            return "unknown bitmap type " + e.type();
        }
        if (e.granularityBits() < MIN_GRANULARITY_BITS || e.granularityBits() > MAX_GRANULARITY_BITS) {
            return "unsupported granularity 2^" + e.granularityBits();
        }
        if (e.name().getBytes(StandardCharsets.UTF_8).length > MAX_NAME_SIZE) {
            return "name too long";
        }
        if (e.extraData().length > 0 && (e.flags() & FLAG_EXTRA_DATA_COMPATIBLE) == 0) {
            return "incompatible extra data";
        }
        if ((e.tableOffset() & (clusterSize - 1)) != 0) {
            return "misaligned bitmap table";
        }
        if (e.tableSize() != tableSize(diskSize, 1L << e.granularityBits(), clusterSize)) {
            return "bitmap table of " + e.tableSize() + " entries for a disk of " + diskSize + " bytes";
        }
        return null;
    }

    /** Bytes of bitmap data for a disk: one bit per granule, rounded up to bytes. */
    static long dataBytes(long diskSize, long granularity) {
        long bits = (diskSize + granularity - 1) / granularity;
        return (bits + 7) / 8;
    }

    /** Entries of the bitmap table: one per cluster of bitmap data. */
    static long tableSize(long diskSize, long granularity, long clusterSize) {
        return (dataBytes(diskSize, granularity) + clusterSize - 1) / clusterSize;
    }
}
