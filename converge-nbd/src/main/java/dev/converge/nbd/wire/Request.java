package dev.converge.nbd.wire;

import dev.converge.nbd.wire.NbdProtocol.Command;
import dev.converge.nbd.wire.NbdProtocol.CommandFlag;
import java.nio.ByteBuffer;
import java.util.Set;

/**
 * A transmission request: magic, u16 flags, u16 type, u64 cookie, u64 offset, u32 length (28 bytes),
 * followed by {@code length} payload bytes for WRITE; or, once extended headers are agreed, the same
 * with a u64 length (32 bytes), followed by {@code length} payload bytes when the flags have
 * PAYLOAD_LEN (else {@code length} is how much of the export the command affects).
 *
 * <p>Flags and type are kept raw: a bad flag or an unknown command is answered with EINVAL on the same
 * connection (as QEMU does), not a framing error. {@link #command()} does the typed rejection.
 *
 * @param flags   command flags, raw
 * @param type    command code, raw
 * @param cookie  the client's handle, echoed in every reply
 * @param offset  byte offset (unsigned 64 bits)
 * @param length  byte length (unsigned 32 bits; 63 bits with extended headers)
 * @param payload the WRITE payload, or null (no payload, or a WRITE above
 *                {@link NbdProtocol#MAX_BUFFER_SIZE} whose payload was discarded: see {@link #payloadDropped()})
 */
public record Request(int flags, int type, long cookie, long offset, long length, ByteBuffer payload) {

    public Request {
        if (length < 0) {
            throw new IllegalArgumentException("request length: " + Long.toUnsignedString(length)
                    + " (expected: 0..2^63-1)");
        }
        flags &= 0xffff;
        type &= 0xffff;
    }

    public static Request of(Command command, Set<CommandFlag> flags, long cookie, long offset, long length) {
        return new Request(NbdProtocol.bits(flags), (int) command.code(), cookie, offset, length, null);
    }

    public static Request read(long cookie, long offset, long length) {
        return of(Command.READ, Set.of(), cookie, offset, length);
    }

    public static Request write(long cookie, long offset, ByteBuffer data, Set<CommandFlag> flags) {
        return new Request(NbdProtocol.bits(flags), (int) Command.WRITE.code(), cookie, offset, data.remaining(),
                data.slice());
    }

    public static Request disconnect(long cookie) {
        return of(Command.DISC, Set.of(), cookie, 0, 0);
    }

    /** The command, or {@link NbdProtocolException.UnknownCode}. */
    public Command command() throws NbdProtocolException.UnknownCode {
        return Command.fromCode(type);
    }

    /** Whether the given flag is set. */
    public boolean has(CommandFlag flag) {
        return (flags & flag.code()) != 0;
    }

    /** Whether this is a WRITE whose payload exceeded the limit and was read past, not kept. */
    public boolean payloadDropped() {
        return type == Command.WRITE.code() && payload == null;
    }

    /** The 28-byte header alone (a client writes the payload after it, from its own buffer, without a copy). */
    public ByteBuffer encodeHeader() {
        checkCompact();
        ByteBuffer b = Wire.allocate(NbdProtocol.REQUEST_HEADER_SIZE);
        b.putInt(NbdProtocol.REQUEST_MAGIC).putShort((short) flags).putShort((short) type).putLong(cookie)
                .putLong(offset).putInt((int) length);
        return b.flip();
    }

    /**
     * The 32-byte extended header and the payload (if any) as one buffer; the flags go out as they are
     * (a WRITE must carry PAYLOAD_LEN).
     */
    public ByteBuffer encodeExtended() {
        int p = payload == null ? 0 : payload.remaining();
        ByteBuffer b = Wire.allocate(NbdProtocol.EXTENDED_HEADER_SIZE + p);
        b.putInt(NbdProtocol.EXTENDED_REQUEST_MAGIC).putShort((short) flags).putShort((short) type).putLong(cookie)
                .putLong(offset).putLong(length);
        if (payload != null) {
            b.put(payload.duplicate());
        }
        return b.flip();
    }

    private void checkCompact() {
        if (length > 0xffffffffL) {
            throw new IllegalStateException("length " + length + " needs extended headers");
        }
    }

    /** Header and payload (if any) as one buffer. */
    public ByteBuffer encode() {
        checkCompact();
        int p = payload == null ? 0 : payload.remaining();
        ByteBuffer b = Wire.allocate(NbdProtocol.REQUEST_HEADER_SIZE + p);
        b.putInt(NbdProtocol.REQUEST_MAGIC).putShort((short) flags).putShort((short) type).putLong(cookie)
                .putLong(offset).putInt((int) length);
        if (payload != null) {
            b.put(payload.duplicate());
        }
        return b.flip();
    }

    @Override
    public String toString() {
        return "Request[" + Command.describe(type) + " flags=0x" + Integer.toHexString(flags) + " cookie=" + cookie
                + " offset=" + Long.toUnsignedString(offset) + " length=" + length + "]";
    }
}
