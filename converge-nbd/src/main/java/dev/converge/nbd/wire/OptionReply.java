package dev.converge.nbd.wire;

import dev.converge.nbd.wire.NbdProtocol.InfoType;
import dev.converge.nbd.wire.NbdProtocol.Option;
import dev.converge.nbd.wire.NbdProtocol.OptionReplyType;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * An option reply: magic, 32-bit option, 32-bit reply type, 32-bit length, data.
 *
 * @param option the option code being answered (echoed raw, so unknown options can be answered)
 * @param type   the reply type
 * @param data   the payload
 */
public record OptionReply(int option, OptionReplyType type, byte[] data) {

    public OptionReply {
        data = data.clone();
    }

    @Override
    public byte[] data() {
        return data.clone();
    }

    /** The payload as a read-only buffer. */
    public ByteBuffer payload() {
        return ByteBuffer.wrap(data).asReadOnlyBuffer();
    }

    public static OptionReply ack(int option) {
        return new OptionReply(option, OptionReplyType.ACK, new byte[0]);
    }

    /** An error reply; the message is for humans (QEMU clients print it). */
    public static OptionReply error(int option, OptionReplyType type, String message) {
        if (!type.isError()) {
            throw new IllegalArgumentException("reply type: " + type + " (expected: an error type)");
        }
        return new OptionReply(option, type, truncate(message));
    }

    /** One export of a LIST reply: u32 name length, name, description. */
    public static OptionReply server(String name, String description) {
        byte[] n = Wire.utf8(name, "export name");
        byte[] d = Wire.utf8(description, "export description");
        ByteBuffer b = Wire.allocate(4 + n.length + d.length).putInt(n.length).put(n).put(d);
        return new OptionReply((int) Option.LIST.code(), OptionReplyType.SERVER, b.array());
    }

    /** NBD_INFO_EXPORT: size and transmission flags. */
    public static OptionReply infoExport(int option, long size, int transmissionFlags) {
        ByteBuffer b = Wire.allocate(12).putShort((short) InfoType.EXPORT.code()).putLong(size)
                .putShort((short) transmissionFlags);
        return new OptionReply(option, OptionReplyType.INFO, b.array());
    }

    /** NBD_INFO_NAME. */
    public static OptionReply infoName(int option, String name) {
        byte[] n = Wire.utf8(name, "export name");
        ByteBuffer b = Wire.allocate(2 + n.length).putShort((short) InfoType.NAME.code()).put(n);
        return new OptionReply(option, OptionReplyType.INFO, b.array());
    }

    /** NBD_INFO_DESCRIPTION. */
    public static OptionReply infoDescription(int option, String description) {
        byte[] d = Wire.utf8(description, "export description");
        ByteBuffer b = Wire.allocate(2 + d.length).putShort((short) InfoType.DESCRIPTION.code()).put(d);
        return new OptionReply(option, OptionReplyType.INFO, b.array());
    }

    /** NBD_INFO_BLOCK_SIZE: minimum, preferred, maximum. */
    public static OptionReply infoBlockSize(int option, int min, int preferred, int max) {
        ByteBuffer b = Wire.allocate(14).putShort((short) InfoType.BLOCK_SIZE.code()).putInt(min).putInt(preferred)
                .putInt(max);
        return new OptionReply(option, OptionReplyType.INFO, b.array());
    }

    /** One meta context: u32 id, name. */
    public static OptionReply metaContext(int option, int id, String name) {
        byte[] n = Wire.utf8(name, "meta context name");
        ByteBuffer b = Wire.allocate(4 + n.length).putInt(id).put(n);
        return new OptionReply(option, OptionReplyType.META_CONTEXT, b.array());
    }

    /** The message of an error reply, as text. */
    public String message() {
        return new String(data, StandardCharsets.UTF_8);
    }

    public ByteBuffer encode() {
        ByteBuffer b = Wire.allocate(NbdProtocol.OPTION_REPLY_HEADER_SIZE + data.length);
        b.putLong(NbdProtocol.OPTION_REPLY_MAGIC).putInt(option).putInt(type.wire()).putInt(data.length).put(data);
        return b.flip();
    }

    /**
     * Decodes one option reply (client side), or returns null without consuming anything while the
     * frame is incomplete. Unknown reply types are rejected.
     */
    public static OptionReply decode(ByteBuffer in) throws NbdProtocolException {
        if (in.remaining() < NbdProtocol.OPTION_REPLY_HEADER_SIZE) {
            return null;
        }
        int p = in.position();
        long magic = in.getLong(p);
        if (magic != NbdProtocol.OPTION_REPLY_MAGIC) {
            throw new NbdProtocolException.BadMagic("option reply magic", magic, NbdProtocol.OPTION_REPLY_MAGIC);
        }
        int option = in.getInt(p + 8);
        OptionReplyType type = OptionReplyType.fromCode(in.getInt(p + 12));
        long len = in.getInt(p + 16) & 0xffffffffL;
        if (len > NbdProtocol.MAX_OPTION_SIZE) {
            throw new NbdProtocolException.LimitExceeded("option reply length", len, NbdProtocol.MAX_OPTION_SIZE);
        }
        if (in.remaining() < NbdProtocol.OPTION_REPLY_HEADER_SIZE + len) {
            return null;
        }
        byte[] data = new byte[(int) len];
        in.get(p + NbdProtocol.OPTION_REPLY_HEADER_SIZE, data);
        in.position(p + NbdProtocol.OPTION_REPLY_HEADER_SIZE + (int) len);
        return new OptionReply(option, type, data);
    }

    private static byte[] truncate(String message) {
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        return m.length <= NbdProtocol.MAX_STRING_SIZE ? m : Arrays.copyOf(m, NbdProtocol.MAX_STRING_SIZE);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OptionReply r && r.option == option && r.type == type && Arrays.equals(r.data, data);
    }

    @Override
    public int hashCode() {
        return (option * 31 + type.hashCode()) * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "OptionReply[" + Option.describe(option) + ", " + type + ", " + data.length + " bytes]";
    }
}
