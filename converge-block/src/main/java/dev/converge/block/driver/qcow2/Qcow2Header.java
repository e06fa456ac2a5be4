package dev.converge.block.driver.qcow2;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * The qcow2 file header and the header extensions we read, as laid out in QEMU's
 * docs/interop/qcow2.txt (all numbers big-endian). A pure codec: {@link #parse} reads the first
 * cluster's bytes, {@link #encode} writes them back; both are tested with byte vectors.
 *
 * @param version               2 or 3
 * @param backingFileOffset     where the backing file name is stored, 0 for none
 * @param backingFileSize       its length in bytes
 * @param clusterBits           log2 of the cluster size (9..21)
 * @param size                  virtual disk size in bytes
 * @param cryptMethod           0 none, 1 AES, 2 LUKS (we refuse encryption)
 * @param l1Size                entries in the active L1 table
 * @param l1TableOffset         host offset of the L1 table
 * @param refcountTableOffset   host offset of the refcount table
 * @param refcountTableClusters clusters the refcount table occupies
 * @param nbSnapshots           internal snapshots
 * @param snapshotsOffset       host offset of the snapshot table
 * @param incompatibleFeatures  v3 incompatible feature bits ({@link #INCOMPAT_DIRTY}, ...)
 * @param compatibleFeatures    v3 compatible feature bits ({@link #COMPAT_LAZY_REFCOUNTS})
 * @param autoclearFeatures     v3 autoclear feature bits ({@link #AUTOCLEAR_BITMAPS}, ...)
 * @param refcountOrder         log2 of the refcount width in bits (4 for v2)
 * @param headerLength          bytes of the fixed header (72 for v2)
 * @param compressionType       0 deflate, 1 zstd
 * @param backingFormat         the backing format extension, if any
 * @param dataFile              the external data file extension, if any
 * @param hasBitmapsExtension   whether the bitmaps extension is present (persistent dirty bitmaps)
 * @param extensionsEnd         the first byte after the end-of-extensions marker
 */
public record Qcow2Header(int version, long backingFileOffset, int backingFileSize, int clusterBits, long size,
        int cryptMethod, int l1Size, long l1TableOffset, long refcountTableOffset, int refcountTableClusters,
        int nbSnapshots, long snapshotsOffset, long incompatibleFeatures, long compatibleFeatures,
        long autoclearFeatures, int refcountOrder, int headerLength, int compressionType,
        Optional<String> backingFormat, Optional<String> dataFile, boolean hasBitmapsExtension, int extensionsEnd) {

    public static final int MAGIC = 0x514649fb; // "QFI\xfb"
    public static final int V2_HEADER_LENGTH = 72;
    public static final int V3_HEADER_LENGTH = 104;
    /** The v3 header with the compression type byte, padded to 8 (what QEMU writes). */
    public static final int V3_HEADER_LENGTH_COMPRESSION = 112;

    public static final long INCOMPAT_DIRTY = 1;
    public static final long INCOMPAT_CORRUPT = 1 << 1;
    public static final long INCOMPAT_DATA_FILE = 1 << 2;
    public static final long INCOMPAT_COMPRESSION = 1 << 3;
    public static final long INCOMPAT_EXTL2 = 1 << 4;
    public static final long INCOMPAT_KNOWN = 0x1f;
    public static final long COMPAT_LAZY_REFCOUNTS = 1;
    public static final long AUTOCLEAR_BITMAPS = 1;
    public static final long AUTOCLEAR_DATA_FILE_RAW = 1 << 1;

    /** Header extension types. */
    static final int EXT_END = 0;
    static final int EXT_BACKING_FORMAT = 0xe2792aca;
    static final int EXT_FEATURE_TABLE = 0x6803f857;
    static final int EXT_CRYPTO = 0x0537be77;
    static final int EXT_BITMAPS = 0x23852875;
    static final int EXT_DATA_FILE = 0x44415441;

    /** Byte offsets of fields updated in place. */
    static final int OFF_L1_SIZE = 36;
    static final int OFF_REFCOUNT_TABLE = 48;
    static final int OFF_INCOMPATIBLE = 72;
    static final int OFF_SIZE = 24;

    public long clusterSize() {
        return 1L << clusterBits;
    }

    public int refcountBits() {
        return 1 << refcountOrder;
    }

    public boolean extendedL2() {
        return (incompatibleFeatures & INCOMPAT_EXTL2) != 0;
    }

    public boolean dirty() {
        return (incompatibleFeatures & INCOMPAT_DIRTY) != 0;
    }

    public boolean corrupt() {
        return (incompatibleFeatures & INCOMPAT_CORRUPT) != 0;
    }

    public boolean lazyRefcounts() {
        return (compatibleFeatures & COMPAT_LAZY_REFCOUNTS) != 0;
    }

    public Qcow2Header withIncompatible(long bits) {
        return new Qcow2Header(version, backingFileOffset, backingFileSize, clusterBits, size, cryptMethod, l1Size,
                l1TableOffset, refcountTableOffset, refcountTableClusters, nbSnapshots, snapshotsOffset, bits,
                compatibleFeatures, autoclearFeatures, refcountOrder, headerLength, compressionType, backingFormat,
                dataFile, hasBitmapsExtension, extensionsEnd);
    }

    /** The header of a new, empty image, without extensions other than the backing format. */
    static Qcow2Header fresh(int version, int clusterBits, long size, int l1Size, long l1TableOffset,
            long refcountTableOffset, int refcountTableClusters, boolean extendedL2, boolean lazyRefcounts,
            int refcountOrder, long backingFileOffset, int backingFileSize, Optional<String> backingFormat) {
        int headerLength = version == 2 ? V2_HEADER_LENGTH : V3_HEADER_LENGTH_COMPRESSION;
        return new Qcow2Header(version, backingFileOffset, backingFileSize, clusterBits, size, 0, l1Size,
                l1TableOffset, refcountTableOffset, refcountTableClusters, 0, 0, extendedL2 ? INCOMPAT_EXTL2 : 0,
                lazyRefcounts ? COMPAT_LAZY_REFCOUNTS : 0, 0, version == 2 ? 4 : refcountOrder, headerLength, 0,
                backingFormat, Optional.empty(), false, 0);
    }

    /** Why an image cannot be read: the user-facing text. */
    public static final class FormatException extends Exception {
        private static final long serialVersionUID = 1L;

        FormatException(String message) {
            super(message);
        }
    }

    /**
     * Parses the header and its extensions from the start of the image ({@code head} holds at
     * least the first cluster, or the whole file when it is shorter).
     */
    public static Qcow2Header parse(ByteBuffer head) throws FormatException {
        ByteBuffer b = head.duplicate().order(ByteOrder.BIG_ENDIAN);
        b.position(0);
        if (b.remaining() < V2_HEADER_LENGTH || b.getInt(0) != MAGIC) {
            throw new FormatException("Image is not in qcow2 format");
        }
        int version = b.getInt(4);
        if (version < 2 || version > 3) {
            throw new FormatException("Unsupported qcow2 version " + version);
        }
        long backingOffset = b.getLong(8);
        int backingSize = b.getInt(16);
        int clusterBits = b.getInt(20);
        if (clusterBits < 9 || clusterBits > 21) {
            throw new FormatException("Unsupported cluster size: 2^" + clusterBits);
        }
        long size = b.getLong(24);
        int crypt = b.getInt(32);
        int l1Size = b.getInt(36);
        long l1Offset = b.getLong(40);
        long rtOffset = b.getLong(48);
        int rtClusters = b.getInt(56);
        int nbSnapshots = b.getInt(60);
        long snapshotsOffset = b.getLong(64);
        long incompat = 0;
        long compat = 0;
        long autoclear = 0;
        int refcountOrder = 4;
        int headerLength = V2_HEADER_LENGTH;
        int compressionType = 0;
        if (version == 3) {
            if (b.remaining() < V3_HEADER_LENGTH) {
                throw new FormatException("qcow2 header exceeds cluster size");
            }
            incompat = b.getLong(72);
            compat = b.getLong(80);
            autoclear = b.getLong(88);
            refcountOrder = b.getInt(96);
            headerLength = b.getInt(100);
            if (headerLength < V3_HEADER_LENGTH) {
                throw new FormatException("qcow2 header too short");
            }
            if (headerLength > (1L << clusterBits) || headerLength > b.remaining()) {
                throw new FormatException("qcow2 header exceeds cluster size");
            }
            if (headerLength > V3_HEADER_LENGTH) {
                compressionType = Byte.toUnsignedInt(b.get(104));
            }
        }
        if (refcountOrder > 6) {
            throw new FormatException("Reference count entry width too large; may not exceed 64 bits");
        }
        if (backingOffset != 0 && (backingSize > 1023 || backingOffset + backingSize > b.limit())) {
            throw new FormatException("Backing file name too long");
        }
        if ((incompat & INCOMPAT_COMPRESSION) != 0 && compressionType == 0) {
            throw new FormatException("Invalid compression type: the compression type bit is set, but the type is deflate");
        }
        Optional<String> backingFormat = Optional.empty();
        Optional<String> dataFile = Optional.empty();
        boolean bitmaps = false;
        int pos = headerLength;
        int end = (int) Math.min(1L << clusterBits, b.limit());
        int extEnd = pos;
        while (pos + 8 <= end) {
            int type = b.getInt(pos);
            int len = b.getInt(pos + 4);
            pos += 8;
            if (type == EXT_END) {
                extEnd = pos;
                break;
            }
            if (len < 0 || pos + len > end) {
                throw new FormatException("Invalid extension length: header extension 0x"
                        + Integer.toHexString(type) + " exceeds the first cluster");
            }
            switch (type) {
                case EXT_BACKING_FORMAT -> backingFormat = Optional.of(string(b, pos, len));
                case EXT_DATA_FILE -> dataFile = Optional.of(string(b, pos, len));
                case EXT_BITMAPS -> bitmaps = true;
                default -> {
                    // feature name table, crypto header, unknown: not needed here
                }
            }
            pos += (len + 7) & ~7;
            extEnd = pos;
        }
        return new Qcow2Header(version, backingOffset, backingSize, clusterBits, size, crypt, l1Size, l1Offset,
                rtOffset, rtClusters, nbSnapshots, snapshotsOffset, incompat, compat, autoclear, refcountOrder,
                headerLength, compressionType, backingFormat, dataFile, bitmaps, extEnd);
    }

    /** The backing file name stored in the image, if any. */
    public Optional<String> backingFile(ByteBuffer head) {
        if (backingFileOffset == 0) {
            return Optional.empty();
        }
        return Optional.of(string(head.duplicate().order(ByteOrder.BIG_ENDIAN), (int) backingFileOffset,
                backingFileSize));
    }

    private static String string(ByteBuffer b, int pos, int len) {
        byte[] s = new byte[len];
        b.get(pos, s);
        return new String(s, StandardCharsets.UTF_8);
    }

    /**
     * The fixed header, its extensions (backing format when present) and the end marker, as the
     * first bytes of a new image; {@code backingFile} follows them when given (its offset must
     * be the one in this header).
     */
    ByteBuffer encode(Optional<String> backingFile) {
        ByteBuffer b = ByteBuffer.allocate((int) clusterSize()).order(ByteOrder.BIG_ENDIAN);
        b.putInt(MAGIC).putInt(version).putLong(backingFileOffset).putInt(backingFileSize).putInt(clusterBits)
                .putLong(size).putInt(cryptMethod).putInt(l1Size).putLong(l1TableOffset).putLong(refcountTableOffset)
                .putInt(refcountTableClusters).putInt(nbSnapshots).putLong(snapshotsOffset);
        if (version == 3) {
            b.putLong(incompatibleFeatures).putLong(compatibleFeatures).putLong(autoclearFeatures)
                    .putInt(refcountOrder).putInt(headerLength);
            while (b.position() < headerLength) {
                b.put((byte) 0); // compression type 0 (deflate) and padding
            }
        }
        backingFormat.ifPresent(f -> {
            byte[] s = f.getBytes(StandardCharsets.UTF_8);
            b.putInt(EXT_BACKING_FORMAT).putInt(s.length).put(s);
            while (b.position() % 8 != 0) {
                b.put((byte) 0);
            }
        });
        b.putInt(EXT_END).putInt(0);
        backingFile.ifPresent(f -> b.position((int) backingFileOffset).put(f.getBytes(StandardCharsets.UTF_8)));
        return b.flip();
    }

    /** Where a backing file name goes in a new image: after the extensions written by {@link #encode}. */
    static int backingFileNameOffset(int version, Optional<String> backingFormat) {
        int pos = version == 2 ? V2_HEADER_LENGTH : V3_HEADER_LENGTH_COMPRESSION;
        if (backingFormat.isPresent()) {
            pos += 8 + ((backingFormat.get().getBytes(StandardCharsets.UTF_8).length + 7) & ~7);
        }
        return pos + 8;
    }

    /**
     * The first cluster of an existing image with its backing file name and backing format
     * replaced (none when empty): the fixed header as it is but for the name's offset and
     * length, every other extension kept in order, then the backing format extension, the end
     * marker and the name (QEMU keeps the same layout when it rewrites a header).
     *
     * @param head the image's first cluster
     * @throws FormatException when the header cannot be read, or the result does not fit in
     *                         the first cluster
     */
    public static ByteBuffer withBacking(ByteBuffer head, Optional<String> backingFile, Optional<String> backingFormat)
            throws FormatException {
        Qcow2Header h = parse(head);
        ByteBuffer in = head.duplicate().order(ByteOrder.BIG_ENDIAN);
        int clusterSize = (int) h.clusterSize();
        ByteBuffer out = ByteBuffer.allocate(clusterSize).order(ByteOrder.BIG_ENDIAN);
        int fixed = h.version() == 2 ? V2_HEADER_LENGTH : h.headerLength();
        try {
            out.put(0, in, 0, fixed).position(fixed);
            int pos = fixed;
            while (pos + 8 <= in.limit()) {
                int type = in.getInt(pos);
                int len = in.getInt(pos + 4);
                if (type == EXT_END) {
                    break;
                }
                int padded = (len + 7) & ~7;
                if (type != EXT_BACKING_FORMAT) {
                    out.put(out.position(), in, pos, 8 + padded).position(out.position() + 8 + padded);
                }
                pos += 8 + padded;
            }
            if (backingFormat.isPresent()) {
                byte[] f = backingFormat.get().getBytes(StandardCharsets.UTF_8);
                out.putInt(EXT_BACKING_FORMAT).putInt(f.length).put(f);
                while (out.position() % 8 != 0) {
                    out.put((byte) 0);
                }
            }
            out.putInt(EXT_END).putInt(0);
            int nameAt = out.position();
            byte[] name = backingFile.map(n -> n.getBytes(StandardCharsets.UTF_8)).orElse(new byte[0]);
            out.put(name);
            out.putLong(8, name.length == 0 ? 0 : nameAt).putInt(16, name.length);
        } catch (java.nio.BufferOverflowException | IndexOutOfBoundsException e) {
            throw new FormatException("Could not change the backing file: the header and its extensions do not fit "
                    + "in the first cluster");
        }
        return out.position(0);
    }
}
