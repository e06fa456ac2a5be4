package dev.converge.nbd.wire;

import java.nio.ByteBuffer;

/**
 * A simple reply: magic, u32 error, u64 cookie (16 bytes), followed by the data of a successful READ.
 *
 * @param error  0 or an NBD errno
 * @param cookie the request's cookie
 * @param data   READ data, or null
 */
public record SimpleReply(int error, long cookie, ByteBuffer data) implements Reply {

    public static SimpleReply ok(long cookie) {
        return new SimpleReply(0, cookie, null);
    }

    public static SimpleReply error(long cookie, NbdProtocol.Errno errno) {
        return new SimpleReply(errno.wire(), cookie, null);
    }

    /** The 16-byte header; the data, if any, is written after it without copying. */
    public ByteBuffer encodeHeader() {
        return Wire.allocate(NbdProtocol.SIMPLE_REPLY_HEADER_SIZE).putInt(NbdProtocol.SIMPLE_REPLY_MAGIC)
                .putInt(error).putLong(cookie).flip();
    }
}
