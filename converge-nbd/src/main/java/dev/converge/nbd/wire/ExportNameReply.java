package dev.converge.nbd.wire;

import java.nio.ByteBuffer;

/**
 * The answer to the old-style EXPORT_NAME option: u64 size, u16 transmission flags, and 124 zero bytes
 * unless the client agreed to NO_ZEROES.
 *
 * @param size              export size in bytes
 * @param transmissionFlags the export's transmission flags
 * @param zeroes            whether to append the 124 zero bytes
 */
public record ExportNameReply(long size, int transmissionFlags, boolean zeroes) {

    public int encodedSize() {
        return 10 + (zeroes ? NbdProtocol.EXPORT_NAME_PADDING : 0);
    }

    public ByteBuffer encode() {
        ByteBuffer b = Wire.allocate(encodedSize()).putLong(size).putShort((short) transmissionFlags);
        return b.position(b.limit()).flip();
    }

    /** Decodes the reply, or returns null without consuming anything while it is incomplete. */
    public static ExportNameReply decode(ByteBuffer in, boolean zeroes) {
        int size = 10 + (zeroes ? NbdProtocol.EXPORT_NAME_PADDING : 0);
        if (in.remaining() < size) {
            return null;
        }
        int p = in.position();
        ExportNameReply r = new ExportNameReply(in.getLong(p), in.getShort(p + 8) & 0xffff, zeroes);
        in.position(p + size);
        return r;
    }
}
